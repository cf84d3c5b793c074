package httpapi

// Operations of the spec this server does not implement yet: they answer errCode 1009 NotImplemented.
// README lists them; each disappears from here when its issue lands.
