package cache

// Object store layout of the job queue and the outbox (the covers' own keys
// are package cover's). Every key of the service is built by these
// functions or cover's.
const (
	jobsPrefix      = "jobs/"
	openJobsPrefix  = "jobs-open/"
	jobOwnersPrefix = "jobs-owners/"
	outboxPrefix    = "outbox/"
)

// JobKey is where a job record is stored.
func JobKey(jobID string) string { return jobsPrefix + jobID }

// JobsPrefix is the prefix of finished job records. Nothing lists it: its
// records expire by the store's lifecycle rule (Expirer).
func JobsPrefix() string { return jobsPrefix }

// OpenJobKey is where a queued or running job's record lives until it
// finishes: the index of open jobs is this prefix.
func OpenJobKey(jobID string) string { return openJobsPrefix + jobID }

// OpenJobsPrefix is the prefix of open job records.
func OpenJobsPrefix() string { return openJobsPrefix }

// JobOwnerKey is the heartbeat of one job-queue process (its lease).
func JobOwnerKey(owner string) string { return jobOwnersPrefix + owner }

// JobOwnersPrefix is the prefix of the heartbeats.
func JobOwnersPrefix() string { return jobOwnersPrefix }

// OutboxKey is where one queued write-back (an outbox entry) is stored.
func OutboxKey(id string) string { return outboxPrefix + id + ".json" }

// OutboxPrefix is the prefix under which every outbox entry lives.
func OutboxPrefix() string { return outboxPrefix }
