// Package testenv finds real PostgreSQL and NATS JetStream servers for tests
// and hands each test its own database, role, stream name or private NATS
// server, removed when the test ends.
//
// Servers are found once per test binary, in this order:
//
//	PostgreSQL: $BOUNDED_TEST_POSTGRES (an admin URL, postgres://...);
//	            postgres@127.0.0.1:5432;
//	            a throwaway cluster started from installed initdb/postgres
//	            binaries (PATH, then /usr/lib/postgresql/*/bin).
//	NATS:       $BOUNDED_TEST_NATS (a URL whose server has JetStream);
//	            nats://127.0.0.1:4222 if JetStream answers there;
//	            an embedded server (package bus), always possible.
//
// Two special values of BOUNDED_TEST_POSTGRES exist: "initdb" forces the
// throwaway cluster and "skip" skips every PostgreSQL test. A server named in
// the environment that does not answer fails the tests rather than falling
// back, since someone asked for exactly that server.
//
// Only when no PostgreSQL can be had do PostgreSQL tests skip; with CI=true
// they fail instead (RealServersRequired). NATS tests never skip.
//
// Every package whose tests use testenv calls Main from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Main prints the one-line skip summary and stops the throwaway cluster and
// embedded server. Note that go test shows a passing package's output only
// with -v (or -json); the summary line is always in that output.
package testenv
