package server

// EnsureAdmins is ensureAdmins for the external tests.
var EnsureAdmins = ensureAdmins
