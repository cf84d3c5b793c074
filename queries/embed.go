// Package queries holds the PostgreSQL schema migrations (migrations/NNNN_name.up.sql), the sqlc query
// files from which gen/db is generated, and [Migrate], which applies the migrations at start.
package queries

import "embed"

// Migrations holds migrations/*.sql. [Migrate] applies the *.up.sql files among them.
//
//go:embed migrations/*.sql
var Migrations embed.FS
