package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureStream makes the stream named cfg.Name exist with the fields this
// project owns — subjects, retention, max age, duplicate window, storage and
// replicas — set as in cfg, and returns it.
//
//   - Missing: it is created from cfg as given (all fields).
//   - Present and equal in the owned fields: it is returned untouched, so
//     calling EnsureStream at every start is cheap and idempotent.
//   - Present and different: it is updated. The update keeps the stream's
//     current values for every field outside the owned set, so limits an
//     operator tuned on the server (MaxBytes, for example) survive.
//
// Zero values in cfg mean the server's default: Subjects empty means the
// stream name, Replicas 0 means 1, Duplicates 0 means "whatever the server
// chose" and is never a reason to update. Storage cannot change in place,
// and JetStream refuses some retention changes; those, and any other
// refused update, return an error that names the differing fields.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Name == "" {
		return nil, errors.New("bus: ensure stream: empty name")
	}
	// Two attempts: a concurrent creator with a different config makes our
	// create fail with "name already in use", and the second pass compares
	// against what it created.
	for attempt := 0; ; attempt++ {
		s, err := js.Stream(ctx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = js.CreateStream(ctx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt == 0 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("bus: create stream %q: %w", cfg.Name, err)
			}
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bus: ensure stream %q: %w", cfg.Name, err)
		}
		have := s.CachedInfo().Config
		diff := streamDiff(have, cfg)
		if len(diff) == 0 {
			return s, nil
		}
		if have.Storage != cfg.Storage {
			return nil, fmt.Errorf("bus: ensure stream %q: storage is %s, want %s; JetStream cannot change storage in place (differs: %s)",
				cfg.Name, have.Storage, cfg.Storage, strings.Join(diff, "; "))
		}
		want := have
		want.Subjects = cfg.Subjects
		want.Retention = cfg.Retention
		want.MaxAge = cfg.MaxAge
		if cfg.Duplicates != 0 {
			want.Duplicates = cfg.Duplicates
		}
		want.Replicas = cfg.Replicas
		s, err = js.UpdateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("bus: update stream %q (differs: %s): %w", cfg.Name, strings.Join(diff, "; "), err)
		}
		return s, nil
	}
}

// streamDiff lists the owned fields in which have differs from want, as
// "field have → want", after applying the server's defaults to want.
func streamDiff(have, want jetstream.StreamConfig) []string {
	var diff []string
	wantSubjects := want.Subjects
	if len(wantSubjects) == 0 {
		wantSubjects = []string{want.Name}
	}
	if !sameSet(have.Subjects, wantSubjects) {
		diff = append(diff, fmt.Sprintf("subjects %v → %v", have.Subjects, wantSubjects))
	}
	if have.Retention != want.Retention {
		diff = append(diff, fmt.Sprintf("retention %s → %s", have.Retention, want.Retention))
	}
	if have.MaxAge != want.MaxAge {
		diff = append(diff, fmt.Sprintf("max age %s → %s", have.MaxAge, want.MaxAge))
	}
	if want.Duplicates != 0 && have.Duplicates != want.Duplicates {
		diff = append(diff, fmt.Sprintf("duplicates window %s → %s", have.Duplicates, want.Duplicates))
	}
	if have.Storage != want.Storage {
		diff = append(diff, fmt.Sprintf("storage %s → %s", have.Storage, want.Storage))
	}
	if max(have.Replicas, 1) != max(want.Replicas, 1) {
		diff = append(diff, fmt.Sprintf("replicas %d → %d", have.Replicas, want.Replicas))
	}
	return diff
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
