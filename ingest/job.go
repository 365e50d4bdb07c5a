package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// JobState is the life cycle of a job: queued → running → succeeded | failed.
// A job stays running until its outcome is delivered to the Notifier (or
// durably queued by it); a job whose owner died is taken over (jobs_lease.go).
type JobState string

// Job states.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
)

// Finished reports whether the state is final.
func (s JobState) Finished() bool { return s == JobSucceeded || s == JobFailed }

// JobError is the stable error recorded on a failed job: its cover.Code
// (Code), that code's public text when the job failed and, for a refused
// placeholder, its stable reason (tiny, uniform, known, aspect).
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// Job is the durable record of one warm request, stored at jobs/{id}.
type Job struct {
	ID        string    `json:"job_id"`
	BookID    string    `json:"book_id"`
	ImageURL  string    `json:"image_url"`
	Refresh   bool      `json:"refresh,omitempty"`
	State     JobState  `json:"state"`
	Version   string    `json:"version,omitempty"`
	Error     *JobError `json:"error,omitempty"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Owner is the job queue process that runs the job; LeaseUntil is how
	// long the record alone keeps it owned (the owner's heartbeat extends
	// it, see jobs_lease.go).
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// Notify is the outcome (succeeded or failed) whose notification is
	// still to be delivered; Manifest is what a succeeded one announces.
	Notify   JobState        `json:"notify,omitempty"`
	Manifest *cover.Manifest `json:"manifest,omitempty"`
	// CoverStatus is what a failed job leaves in the catalog's cover_status
	// (StatusOf): placeholder or missing for a book without a cover whose
	// source has none, else empty (nothing is written).
	CoverStatus CoverStatus `json:"cover_status,omitempty"`
}

// jobIDLen is the number of random bytes in a job id (hex-encoded).
const jobIDLen = 16

func newJobID() string {
	var b [jobIDLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	return hex.EncodeToString(b[:])
}

// ValidJobID checks the job id form before it is used as a store key.
func ValidJobID(id string) error {
	if len(id) != 2*jobIDLen {
		return fmt.Errorf("job id %q: %w", id, ErrJobNotFound)
	}
	if _, err := hex.DecodeString(id); err != nil {
		return fmt.Errorf("job id %q: %w", id, ErrJobNotFound)
	}
	for _, c := range id {
		if c >= 'A' && c <= 'F' {
			return fmt.Errorf("job id %q: %w", id, ErrJobNotFound)
		}
	}
	return nil
}

func jobKey(bookID, imageURL string) string { return bookID + "\x00" + imageURL }

// errorsIsFinal reports whether a warm error ends the job (anything but a
// passing storage fault).
func errorsIsFinal(err error) bool {
	return err != nil && !retryableStore(err) && !errors.Is(err, ErrClosed)
}
