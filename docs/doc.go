// Package docs holds the repository's own documents: CONVENTIONS.md (the names the specs, the generated code and
// the server share) and decisions.md (every decision and borrowed OpenIM fact the specs and code rely on, each
// under a stable anchor). Its test keeps the repository self-contained: every citation of decisions.md resolves,
// and nothing cites the team's outside briefing documents.
package docs
