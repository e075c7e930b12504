"""Go around the rules (`milestones.games.go`): SGF game records, the GTP engine protocol, GNU Go as
opponent and teacher."""
