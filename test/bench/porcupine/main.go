// Command porcupine-harness checks Jepsen register logs with porcupine, for
// test/bench/checker.mjs (npm run bench:checker), which compares porcupine's verdicts and
// times with those of this project's checker (src/core/grading/linearizability.ts).
//
// This file is the project's own code; porcupine (github.com/anishathalye/porcupine, MIT)
// is not part of the repository. The benchmark extracts porcupine's source into a
// temporary folder, writes a go.mod beside a copy of this file whose replace directive
// points at that folder, and builds offline (GOPROXY=off, GOSUMDB=off, GOFLAGS=-mod=mod).
// By hand, with porcupine's source in $P:
//
//	mkdir /tmp/h && cp main.go /tmp/h && cd /tmp/h
//	printf 'module harness\ngo 1.16\nrequire github.com/anishathalye/porcupine v0.0.0\nreplace github.com/anishathalye/porcupine => %s\n' "$P" > go.mod
//	GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod go build -o harness . && ./harness -model cas-register etcd_000.log
//
// Usage: harness [-model register|cas-register] [-runs 5] [-min-ms 20] [-timeout 10s] LOG...
//
// For each log it prints one line of JSON:
//
//	{"file":"etcd_000.log","operations":93,"verdict":"not-linearizable","ms":0.41,"minMs":0.4,"maxMs":0.43,"batch":48}
//
// ms is the median over -runs batches of the time of one check: each batch repeats the
// check until it has taken at least -min-ms, and the time per check is the batch's time
// divided by its repetitions, so that histories checked in microseconds are measured
// without the clock's and the process's start-up cost. Parsing is not timed.
//
// The history is read as Jepsen's outcomes say (the rules of this project's checker):
// an :ok operation happened between its invocation and its completion; a :fail one did
// not happen (it is left out); an :info write or cas (or one never completed) may take
// effect at any time after its invocation or never, so its completion is put after the
// end of the history and, for a cas, the model lets it be a no-op when the register does
// not hold its expected value; an :info read says nothing (it is left out). Nemesis lines
// (a process that is a keyword, like :nemesis) and other log lines are skipped.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The register's value; Nil is the value before any write (Jepsen's nil).
type value struct {
	Nil bool
	V   int64
}

var nilValue = value{Nil: true}

type kind uint8

const (
	read kind = iota
	write
	cas
)

type input struct {
	Kind kind
	// write: the value; cas: the expected value.
	A value
	// cas: the new value.
	B value
	// The outcome is unknown (:info or never completed): a cas may be a no-op.
	Unknown bool
}

type output struct {
	// read: the value read.
	Read value
}

var registerModel = porcupine.Model{
	Init: func() interface{} { return nilValue },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		s := state.(value)
		i := in.(input)
		switch i.Kind {
		case read:
			return out.(output).Read == s, s
		case write:
			return true, i.A
		default:
			if s == i.A {
				return true, i.B
			}
			// A cas that completed :ok swapped, so it needs its expected value; one with an
			// unknown outcome may not have happened at all, which here is a no-op.
			return i.Unknown, s
		}
	},
	Hash: func(state interface{}) uint64 {
		s := state.(value)
		if s.Nil {
			return 0x9e3779b97f4a7c15
		}
		return uint64(s.V) * 0xff51afd7ed558ccd
	},
	DescribeOperation: func(in, out interface{}) string {
		i := in.(input)
		switch i.Kind {
		case read:
			return fmt.Sprintf("read() -> %s", describe(out.(output).Read))
		case write:
			return fmt.Sprintf("write(%s)", describe(i.A))
		default:
			return fmt.Sprintf("cas(%s, %s)", describe(i.A), describe(i.B))
		}
	},
}

func describe(v value) string {
	if v.Nil {
		return "nil"
	}
	return strconv.FormatInt(v.V, 10)
}

// One event line: an optional logger prefix ending in " - " (and, in newer Jepsen logs,
// "jepsen.util "), then process, :type, :f and value, separated by tabs or spaces.
var line = regexp.MustCompile(`^(?:.*?\s-\s(?:jepsen\.util\s+)?)?(\S+)\s+:(invoke|ok|fail|info)\s+:([\w-]+)\s*(.*?)\s*$`)

func parseValue(text string) (value, error) {
	if text == "nil" {
		return nilValue, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return value{}, fmt.Errorf("the value %q is not nil or an integer", text)
	}
	return value{V: n}, nil
}

func parseCas(text string) (value, value, error) {
	fields := strings.Fields(strings.Trim(text, "[]()"))
	if len(fields) != 2 || !strings.HasPrefix(text, "[") && !strings.HasPrefix(text, "(") {
		return value{}, value{}, fmt.Errorf("the cas value %q is not [expected new]", text)
	}
	a, err := parseValue(fields[0])
	if err != nil {
		return value{}, value{}, err
	}
	b, err := parseValue(fields[1])
	return a, b, err
}

type pending struct {
	call int64
	in   input
}

// readLog turns a Jepsen register log into porcupine operations, by the rules above.
func readLog(path string, model string) ([]porcupine.Operation, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	open := map[string]pending{}
	var ops []porcupine.Operation
	var clock int64
	unknown := func(p pending) {
		if p.in.Kind == read {
			return
		}
		p.in.Unknown = true
		ops = append(ops, porcupine.Operation{Input: p.in, Call: p.call, Output: output{}, Return: -1})
	}
	for number := 1; scanner.Scan(); number++ {
		m := line.FindStringSubmatch(scanner.Text())
		if m == nil || strings.HasPrefix(m[1], ":") {
			continue
		}
		process, typ, f, text := m[1], m[2], m[3], m[4]
		clock++
		where := fmt.Sprintf("%s:%d", path, number)
		if typ == "invoke" {
			in := input{}
			switch f {
			case "read":
				in.Kind = read
			case "write":
				in.Kind = write
				if in.A, err = parseValue(text); err != nil {
					return nil, fmt.Errorf("%s: %v", where, err)
				}
			case "cas":
				if model != "cas-register" {
					return nil, fmt.Errorf("%s: a cas needs -model cas-register", where)
				}
				in.Kind = cas
				if in.A, in.B, err = parseCas(text); err != nil {
					return nil, fmt.Errorf("%s: %v", where, err)
				}
			default:
				return nil, fmt.Errorf("%s: the operation :%s is not :read, :write or :cas", where, f)
			}
			if p, ok := open[process]; ok {
				unknown(p) // invoked again without a completion
			}
			open[process] = pending{call: clock, in: in}
			continue
		}
		p, ok := open[process]
		if !ok {
			continue
		}
		delete(open, process)
		switch typ {
		case "fail":
			// It did not happen.
		case "info":
			unknown(p)
		default:
			out := output{}
			if p.in.Kind == read {
				if out.Read, err = parseValue(text); err != nil {
					return nil, fmt.Errorf("%s: %v", where, err)
				}
			}
			ops = append(ops, porcupine.Operation{Input: p.in, Call: p.call, Output: out, Return: clock})
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	for _, p := range open {
		unknown(p)
	}
	// Unknown outcomes complete after everything else.
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Return = clock + 1
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return ops, nil
}

type result struct {
	File       string  `json:"file"`
	Operations int     `json:"operations"`
	Verdict    string  `json:"verdict"`
	Ms         float64 `json:"ms"`
	MinMs      float64 `json:"minMs"`
	MaxMs      float64 `json:"maxMs"`
	Batch      int     `json:"batch"`
	Error      string  `json:"error,omitempty"`
}

func verdictOf(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "linearizable"
	case porcupine.Illegal:
		return "not-linearizable"
	default:
		return "unknown"
	}
}

func measure(path, model string, runs int, minMs float64, timeout time.Duration) result {
	r := result{File: filepath.Base(path)}
	ops, err := readLog(path, model)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Operations = len(ops)
	check := func() porcupine.CheckResult { return porcupine.CheckOperationsTimeout(registerModel, ops, timeout) }
	// The first check finds the verdict and how many checks make a batch of minMs.
	start := time.Now()
	verdict := check()
	first := float64(time.Since(start).Nanoseconds()) / 1e6
	r.Verdict = verdictOf(verdict)
	r.Batch = 1
	if first < minMs {
		r.Batch = int(minMs/maxFloat(first, 0.001)) + 1
	}
	times := make([]float64, 0, runs)
	for run := 0; run < runs; run++ {
		start := time.Now()
		for i := 0; i < r.Batch; i++ {
			if got := check(); got != verdict {
				r.Error = fmt.Sprintf("porcupine answered %s and then %s", verdictOf(verdict), verdictOf(got))
			}
		}
		times = append(times, float64(time.Since(start).Nanoseconds())/1e6/float64(r.Batch))
	}
	sort.Float64s(times)
	r.MinMs, r.MaxMs = times[0], times[len(times)-1]
	if len(times)%2 == 1 {
		r.Ms = times[len(times)/2]
	} else {
		r.Ms = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	return r
}

func maxFloat(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func main() {
	model := flag.String("model", "cas-register", "register or cas-register")
	runs := flag.Int("runs", 5, "batches timed per log; the median is reported")
	minMs := flag.Float64("min-ms", 20, "each batch repeats the check for at least this many milliseconds")
	timeout := flag.Duration("timeout", 10*time.Second, "porcupine's timeout per check (then the verdict is unknown)")
	flag.Parse()
	if *model != "register" && *model != "cas-register" || flag.NArg() == 0 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: harness [-model register|cas-register] [-runs 5] [-min-ms 20] [-timeout 10s] LOG...")
		os.Exit(2)
	}
	encoder := json.NewEncoder(os.Stdout)
	failed := false
	for _, path := range flag.Args() {
		r := measure(path, *model, *runs, *minMs, *timeout)
		failed = failed || r.Error != ""
		if err := encoder.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}
