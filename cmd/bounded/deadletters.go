package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// deadLettersConfig is what the `bounded dead-letters` commands run with:
// the running shop's address and admin token (see shopAdminToken).
type deadLettersConfig struct {
	cmd   string // "dead-letters list", for the messages
	base  string
	token string
	data  string
}

// newDeadLettersFlags returns the flag set of dead-letters command name,
// with the flags that reach the shop, and the config they fill.
func (m *Main) newDeadLettersFlags(name, synopsis string) (flagSet, *deadLettersConfig) {
	fs := m.newFlagSet(name, synopsis)
	cfg := &deadLettersConfig{cmd: name}
	fs.StringVar(&cfg.base, "url", cmp.Or(os.Getenv("BOUNDED_URL"), defaultShopURL), "the shop's `address`, as 'bounded up' prints it (default $BOUNDED_URL, else "+defaultShopURL+")")
	fs.StringVar(&cfg.token, "admin-token", os.Getenv("BOUNDED_ADMIN_TOKEN"), "the shop's admin `token` (default $BOUNDED_ADMIN_TOKEN, else the one in DATA/admin-token)")
	fs.StringVar(&cfg.data, "data", "data", "the shop's data `directory`, where 'bounded up' keeps the admin token")
	return fs, cfg
}

// check reports a usage error in the flags.
func (cfg *deadLettersConfig) check() error {
	if u, err := url.Parse(cfg.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("%s: --url %q: want an http(s) URL such as %s", cfg.cmd, cfg.base, defaultShopURL)
	}
	return nil
}

func (m *Main) parseDeadLettersList(_ context.Context, args []string) (func(context.Context) error, error) {
	fs, cfg := m.newDeadLettersFlags("dead-letters list", `Lists the running shop's dead letters (GET /ops/dead-letters): the events a consumer
could not apply, kept in the consumer's own database, oldest first per service. Ids are
per service: 'bounded dead-letters replay SERVICE ID' runs one again, 'bounded dead-letters
discard SERVICE ID --yes' deletes one that can never succeed. See docs/shop.md.`)
	service := fs.String("service", "", "only the dead letters of this `service`")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		path := "/ops/dead-letters"
		if *service != "" {
			path += "?service=" + url.QueryEscape(*service)
		}
		var v struct {
			DeadLetters []deadLetterRow `json:"dead_letters"`
		}
		if err := cfg.call(ctx, http.MethodGet, path, &v); err != nil {
			return err
		}
		return writeDeadLetters(m.Stdout, v.DeadLetters)
	}, nil
}

func (m *Main) parseDeadLettersReplay(_ context.Context, args []string) (func(context.Context) error, error) {
	fs, cfg := m.newDeadLettersFlags("dead-letters replay", `Runs dead letter ID of SERVICE through its consumer's handler again, in one transaction
that also deletes it (POST /ops/dead-letters/SERVICE/ID/replay). If it fails again, it
stays, with the new error and one more attempt, and the command exits 1.

usage: bounded dead-letters replay SERVICE ID [flags]`)
	service, id, err := fs.parseDeadLetter(args, cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		var v struct {
			EventID string `json:"event_id"`
		}
		if err := cfg.call(ctx, http.MethodPost, deadLetterPath(service, id)+"/replay", &v); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "replayed dead letter %d of %s (event %s): applied, and deleted\n", id, service, v.EventID)
		return nil
	}, nil
}

func (m *Main) parseDeadLettersDiscard(_ context.Context, args []string) (func(context.Context) error, error) {
	fs, cfg := m.newDeadLettersFlags("dead-letters discard", `Deletes dead letter ID of SERVICE for good, without applying it
(DELETE /ops/dead-letters/SERVICE/ID): for one no replay can cure, a malformed message
say. The event stays marked as handled, so a copy delivered again is skipped. The shop
logs the whole letter (a WARN line: payload, error, attempts) and counts it in
bounded_inbox_dead_letters_discarded_total. Without --yes it refuses.

usage: bounded dead-letters discard SERVICE ID --yes [flags]`)
	yes := fs.Bool("yes", false, "really discard it")
	service, id, err := fs.parseDeadLetter(args, cfg)
	if err != nil {
		return nil, err
	}
	if !*yes {
		return nil, usagef("dead-letters discard: nothing discarded; give --yes to delete dead letter %d of %s for good", id, service)
	}
	return func(ctx context.Context) error {
		var dl deadLetterRow
		if err := cfg.call(ctx, http.MethodDelete, deadLetterPath(service, id), &dl); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "discarded dead letter %d of %s: event %s (%s) of consumer %s, %d attempts, error: %s (the shop's log keeps it whole)\n",
			dl.ID, dl.Service, dl.EventID, orDashStr(dl.EventType), dl.Consumer, dl.Attempts, oneLine(dl.Error))
		return nil
	}, nil
}

// parseDeadLetter parses the arguments of a command on one dead letter:
// SERVICE ID, before, after or among the flags.
func (fs flagSet) parseDeadLetter(args []string, cfg *deadLettersConfig) (service string, id int64, err error) {
	pos, err := fs.parseArgs(args, 2)
	if err != nil {
		return "", 0, err
	}
	if len(pos) < 2 {
		return "", 0, usagef("%s: want SERVICE ID (as 'bounded dead-letters list' shows them)", cfg.cmd)
	}
	if id, err = strconv.ParseInt(pos[1], 10, 64); err != nil || id <= 0 {
		return "", 0, usagef("%s: dead letter id %q: want a positive integer", cfg.cmd, pos[1])
	}
	return pos[0], id, cfg.check()
}

// parseArgs parses args, where flags and up to n other arguments may come
// in any order (the flag package stops at the first argument), and returns
// the other arguments. After "--" all are arguments.
func (fs flagSet) parseArgs(args []string, n int) ([]string, error) {
	var pos []string
	for {
		if err := fs.parseN(args, len(args)); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) > n {
		return nil, usagef("%s: unexpected argument %q", fs.Name(), pos[n])
	}
	return pos, nil
}

func deadLetterPath(service string, id int64) string {
	return "/ops/dead-letters/" + url.PathEscape(service) + "/" + strconv.FormatInt(id, 10)
}

// deadLetterRow is a dead letter as the operations API shows it (the
// fields the commands print).
type deadLetterRow struct {
	ID        int64     `json:"id"`
	Service   string    `json:"service"`
	Consumer  string    `json:"consumer"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	DeadAt    time.Time `json:"dead_at"`
}

// deadLetterErrorWidth is how much of a dead letter's error the list shows.
const deadLetterErrorWidth = 60

func writeDeadLetters(w io.Writer, dls []deadLetterRow) error {
	if len(dls) == 0 {
		_, err := fmt.Fprintln(w, "no dead letters")
		return err
	}
	t := table{header: []string{"ID", "SERVICE", "CONSUMER", "EVENT TYPE", "ATTEMPTS", "DEAD AT", "ERROR"}}
	for _, dl := range dls {
		msg := oneLine(dl.Error)
		if r := []rune(msg); len(r) > deadLetterErrorWidth {
			msg = string(r[:deadLetterErrorWidth-1]) + "…"
		}
		t.add(dl.ID, dl.Service, dl.Consumer, orDashStr(dl.EventType), dl.Attempts, stamp(dl.DeadAt), msg)
	}
	return t.write(w)
}

// call sends an admin request to the shop and decodes the answer, which
// must be 200, into out. Its errors are one line, prefixed with the
// command.
func (cfg *deadLettersConfig) call(ctx context.Context, method, path string, out any) error {
	token, err := shopAdminToken(cfg.token, cfg.data)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.cmd, err)
	}
	b, err := callShop(ctx, cfg.base, token, method, path, http.StatusOK)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.cmd, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the answer: %w", cfg.cmd, err)
	}
	return nil
}
