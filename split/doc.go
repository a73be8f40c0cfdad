// Package split helps a team that still shares one PostgreSQL database
// between services get out of it, in four steps:
//
//  1. Catalogue the coupling: which role reads or writes which table, read
//     from the live database (pg_stat_statements, or sampling
//     pg_stat_activity), beside the catalog's foreign keys, views and grants.
//  2. Write down who owns what: an ownership manifest naming each service,
//     the roles it connects as and the tables it owns; the catalogue proposes
//     one from who writes what.
//  3. Shadow-compare: while a service's data moves to a database of its own,
//     compare the rows the shared database holds with the new one's, key by
//     key, streaming both sides.
//  4. Sever: revoke every privilege a role holds on another service's tables
//     and drop the foreign keys that cross owners, once the evidence shows no
//     role still crosses.
//
// Queries are parsed with PostgreSQL's own parser (libpg_query, compiled to
// WebAssembly and run by wazero: no cgo).
package split
