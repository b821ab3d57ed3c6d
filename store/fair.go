package store

import "time"

// batchBudget is about how much writer time one batch may take when it
// holds more than one write: the writes of a batch are answered together,
// so a cheap write must not wait behind many expensive ones.
const batchBudget = 5 * time.Millisecond

// An app that has had at least lag less writer time than the app to be
// served next, that sent its last write within recent and whose clients
// answer quickly (they send again within anticipation of an answer), is
// waited for up to anticipation before the writer starts a batch without
// it: its next write is on its way, and without the wait an app that always
// has a big write queued would take the writer every time it comes free.
// One wait per idle spell of that app, so that a slow one costs little.
const (
	recent       = 20 * time.Millisecond
	lag          = 10 * time.Millisecond
	anticipation = 2 * time.Millisecond
	forgetIdle   = time.Second
)

// fairQueue holds the writes waiting for the writer, one FIFO queue per
// app, and hands them out fairly: next is always the app that has had the
// least writer time, so an app flooding the writer with big writes gets its
// share and no more, and another app's writes go through beside it. An app
// that comes back after being idle starts near the least time of the apps
// waiting, not with the credit of its idle time.
type fairQueue struct {
	apps  map[string]*appQueue
	count int
	// floor is the least writer time among the apps active lately (queued,
	// or seen within recent) when it was last measured: where an app that
	// comes (back) starts. Counting only queued apps would leave it stale
	// whenever an app's clients wait for each answer before writing again.
	floor time.Duration
}

type appQueue struct {
	jobs     []*job
	used     time.Duration // writer time had
	cost     time.Duration // what one of its writes recently took (a moving average)
	seen     time.Time     // when it last sent a write
	answered time.Time     // when its last batch was answered
	think    time.Duration // how soon after an answer it writes again (a moving average)
	waited   bool          // the writer already waited for it in this idle spell
}

func newFairQueue() *fairQueue { return &fairQueue{apps: map[string]*appQueue{}} }

func (q *fairQueue) push(j *job) {
	a, ok := q.apps[j.app]
	if !ok {
		// Unknown cost: planned as a whole batch until measured.
		a = &appQueue{used: q.floor, cost: batchBudget, think: recent}
		q.apps[j.app] = a
	}
	now := time.Now()
	if len(a.jobs) == 0 && !a.answered.IsZero() {
		a.think = (3*a.think + now.Sub(a.answered)) / 4
		a.waited = false
	}
	a.jobs = append(a.jobs, j)
	a.seen = now
	q.count++
}

// settle accounts for a batch once it ran, but for the writes it left
// unrun, which go back to their queues first: their app may have sent them
// longer than forgetIdle ago (a write before them ran that long), and must
// not be forgotten meanwhile.
func (q *fairQueue) settle(batch, unrun []*job) {
	q.requeue(unrun)
	q.account(batch[:len(batch)-len(unrun)])
}

// requeue puts writes taken but not run back at the head of their queues,
// in their order. An app whose only writes were these may have been
// forgotten meanwhile (a long batch left it idle past forgetIdle): it
// comes back as a new one.
func (q *fairQueue) requeue(jobs []*job) {
	for i := len(jobs) - 1; i >= 0; i-- {
		a, ok := q.apps[jobs[i].app]
		if !ok {
			a = &appQueue{used: q.floor, cost: batchBudget, think: recent, seen: time.Now()}
			q.apps[jobs[i].app] = a
		}
		a.jobs = append([]*job{jobs[i]}, a.jobs...)
		q.count++
	}
}

// anticipate names an under-served app worth waiting for ("" for none),
// and notes that it is waited for.
func (q *fairQueue) anticipate(now time.Time) string {
	var next *appQueue
	for _, a := range q.apps {
		if len(a.jobs) > 0 && (next == nil || a.used < next.used) {
			next = a
		}
	}
	if next == nil {
		return ""
	}
	for id, a := range q.apps {
		if id != "" && len(a.jobs) == 0 && !a.waited && a.think < anticipation && now.Sub(a.seen) < recent &&
			next.used-a.used >= lag {
			a.waited = true
			return id
		}
	}
	return ""
}

// waiting reports whether the app has writes queued.
func (q *fairQueue) waiting(app string) bool {
	a, ok := q.apps[app]
	return ok && len(a.jobs) > 0
}

// batch takes the next writes: in fair order, at most maxBatch, and no more
// than fit in batchBudget by what each app's writes recently took (at least
// one write). A write that goes alone (a purge step) has a batch of its
// own: the writes beside it need not wait for its commit.
func (q *fairQueue) batch() []*job {
	var out []*job
	var planned time.Duration
	charged := map[*appQueue]time.Duration{} // planned time, not yet accounted
	for len(out) < maxBatch && q.count > 0 {
		var next *appQueue
		for _, a := range q.apps {
			if len(a.jobs) > 0 && (next == nil || a.used+charged[a] < next.used+charged[next]) {
				next = a
			}
		}
		j := next.jobs[0]
		if len(out) > 0 && (j.alone || planned+next.cost > batchBudget) {
			break
		}
		out = append(out, j)
		next.jobs = next.jobs[1:]
		q.count--
		planned += next.cost
		charged[next] += max(next.cost, time.Microsecond)
		if j.alone {
			break
		}
	}
	return out
}

// chargeCommit shares what committing a batch took between its writes, in
// proportion to what each took to run: a big write also costs the writer
// the writing of its pages.
func chargeCommit(batch []*job, commit time.Duration) {
	var total time.Duration
	for _, j := range batch {
		total += j.took
	}
	for _, j := range batch {
		if total > 0 {
			j.took += time.Duration(float64(commit) * float64(j.took) / float64(total))
		}
	}
}

// account records what the writes of a batch took, and forgets the apps
// idle for long.
func (q *fairQueue) account(batch []*job) {
	now := time.Now()
	for _, j := range batch {
		a, ok := q.apps[j.app]
		if !ok {
			continue
		}
		a.used += j.took
		a.cost = (3*a.cost + j.took) / 4
		a.answered = now
	}
	floor := time.Duration(-1)
	for _, a := range q.apps {
		if (len(a.jobs) > 0 || now.Sub(a.seen) < recent) && (floor < 0 || a.used < floor) {
			floor = a.used
		}
	}
	if floor >= 0 {
		q.floor = floor
	}
	for id, a := range q.apps {
		if len(a.jobs) == 0 && now.Sub(a.seen) > forgetIdle {
			delete(q.apps, id)
		} else if len(a.jobs) == 0 && a.used < q.floor-lag {
			a.used = q.floor - lag // no credit hoarded while idle
		}
	}
}
