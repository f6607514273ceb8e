// SPDX-License-Identifier: GPL-2.0
/*
 * bench's report: the clocks and what they can resolve, the per-run table,
 * the summary tables, CPU time and syscalls per move per backend, and the
 * native/repair ratio against the target (native at most a third of
 * repair's CPU time per connection, at most 5 syscalls per move).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "bench.h"
#include "tcpcp.h"

#define MS(x) ((x)*1e3)
#define US(x) ((x)*1e6)
#define RATIO_TARGET (1.0 / 3)
#define SYSCALL_TARGET 5

static const char *const phase_name[PH_N] = { "dump", "create", "activate",
					      "discard" };

/* What report_clocks() found: smallest steps and a reading's cost, s */
static double step_cpu, step_mono, step_ru, cpu_pair;
static char clocksource[32] = "?";

double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double rusage_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double mono_s(void)
{
	return now_s();
}

/* The smallest non-zero step of clk over a few changes, spinning <= 0.5 s */
static double step_of(double (*clk)(void))
{
	double a = clk(), b, min = 1, end = now_s() + 0.5;
	int changes = 0;

	while (changes < 20 && now_s() < end) {
		b = clk();
		if (b == a)
			continue;
		if (b - a < min)
			min = b - a;
		a = b;
		changes++;
	}
	return changes ? min : -1;
}

void report_clocks(void)
{
	double d[101];
	FILE *f;
	int i;

	f = fopen("/sys/devices/system/clocksource/clocksource0/"
		  "current_clocksource",
		  "r");
	if (f) {
		if (fscanf(f, "%31s", clocksource) != 1)
			strcpy(clocksource, "?");
		fclose(f);
	}
	step_mono = step_of(mono_s);
	step_cpu = step_of(cpu_s);
	step_ru = step_of(rusage_s);
	/* what two back-to-back readings cost (inside every measured call) */
	for (i = 0; i < 101; i++) {
		double t = cpu_s();

		d[i] = cpu_s() - t;
	}
	qsort(d, 101, sizeof(d[0]), cmpd);
	cpu_pair = d[50];
	printf("clocks: clocksource %s; smallest step seen: monotonic %.1f us, "
	       "thread CPU time %.1f us,\nrusage user+sys %.1f us; an empty "
	       "thread-CPU interval reads %.1f us (median, not subtracted)\n",
	       clocksource, US(step_mono), US(step_cpu), US(step_ru),
	       US(cpu_pair));
	if (step_cpu > 100e-6 || step_cpu < 0)
		printf("clocks: WARNING: the thread CPU clock is coarse (%.0f us "
		       "steps): a per-call figure is 0 or a step;\nonly sums "
		       "over many calls mean anything (under TCG boot with "
		       "tsc_early_khz=<host TSC kHz> tsc=reliable)\n",
		       US(step_cpu));
}

void print_row(const struct row *r)
{
	if (!r->ok) {
		printf("%6d %-6s  failed (after %.1f s)\n", r->n,
		       tcpcp_backend_name(r->backend), r->wall);
		return;
	}
	printf("%6d %-6s %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %4.0f %4.0f %4.0f"
	       " %9.1f %8.1f %8.1f %8.1f %8.1f %7.1f",
	       r->n, tcpcp_backend_name(r->backend), MS(r->get[0]),
	       MS(r->get[1]), MS(r->create[0]), MS(r->create[1]), MS(r->act[0]),
	       MS(r->act[1]), r->sys[PH_DUMP], r->sys[PH_CREATE],
	       r->sys[PH_ACT], MS(r->freeze), MS(r->act_all),
	       MS(r->ps.move_max), MS(r->ps.move_p50), MS(r->ps.after_max),
	       MS(r->ps.base_max));
	if (r->pcap_stall >= 0)
		printf(" %8.1f %-5s", r->pcap_stall, r->pcap);
	else if (opt_pcap)
		printf(" %8s %-5s", "-", r->pcap[0] ? r->pcap : "-");
	printf(" %6.1f\n", r->wall);
}

void print_head(void)
{
	printf("%13s %13s %13s %13s %14s %9s %8s %34s%s %6s\n", "", "get ms",
	       "create ms", "activate ms", "syscalls/conn", "freeze->",
	       "activate", "peer: gap between reads, ms",
	       opt_pcap ? "  pcapcheck     " : "", "run");
	printf("%6s %-6s %6s %6s %6s %6s %6s %6s %4s %4s %4s %9s %8s %8s %8s "
	       "%8s %7s%s %6s\n",
	       "N", "backnd", "p50", "p99", "p50", "p99", "p50", "p99", "get",
	       "crt", "act", "activ. ms", "all ms", "move max", "move p50",
	       "after", "base", opt_pcap ? " stall ms verdict" : "", "s");
}

static double total(const double *v)
{
	double t = 0;
	int p;

	for (p = 0; p < PH_N; p++)
		t += v[p];
	return t;
}

/* CPU s per connection in phase p: the batch's mean, or the median call */
static double per_conn(const struct row *r, int p, bool median)
{
	return median ? r->cpu_p50[p] : r->cpu[p] / r->n;
}

static double per_conn_total(const struct row *r, bool median)
{
	double t = 0;
	int p;

	for (p = 0; p < PH_N; p++)
		t += per_conn(r, p, median);
	return t;
}

static void print_cpu_row(const struct row *r, bool median)
{
	int p;

	printf("%6d %-7s", r->n, tcpcp_backend_name(r->backend));
	if (!r->ok) {
		printf(" failed\n");
		return;
	}
	for (p = 0; p < PH_N; p++)
		printf(" %8.1f", US(per_conn(r, p, median)));
	printf(" %8.1f", US(per_conn_total(r, median)));
	if (median) {
		printf("\n");
		return;
	}
	printf(" %8.1f |", US(total(r->ru)) / r->n);
	for (p = 0; p < PH_N; p++)
		printf(" %4.0f", r->sys[p]);
	printf(" %5.0f\n", total(r->sys));
}

/*
 * The native row of the same N run next to rows[k] (each N runs with every
 * backend in turn, so a repeated N pairs with its own neighbour)
 */
static const struct row *partner(const struct row *rows, int nrows, int k)
{
	int m;

	for (m = k - 1; m >= 0 && rows[m].n == rows[k].n &&
			rows[m].backend != rows[k].backend;
	     m--)
		if (rows[m].backend == TCPCP_BACKEND_NATIVE)
			return rows[m].ok ? &rows[m] : NULL;
	for (m = k + 1; m < nrows && rows[m].n == rows[k].n &&
			rows[m].backend != rows[k].backend;
	     m++)
		if (rows[m].backend == TCPCP_BACKEND_NATIVE)
			return rows[m].ok ? &rows[m] : NULL;
	return NULL;
}

/* Per-phase and total ratio native/repair at one N; the total's ratio */
static double print_ratio(const struct row *nat, const struct row *rep,
			  bool median)
{
	double r = per_conn_total(nat, median) / per_conn_total(rep, median);
	int p;

	printf("%6d %-7s", nat->n, "nat/rep");
	for (p = 0; p < PH_N; p++)
		if (per_conn(rep, p, median) > 0)
			printf(" %8.2f", per_conn(nat, p, median) /
						 per_conn(rep, p, median));
		else
			printf(" %8s", "-");
	printf(" %8.2f", r);
	if (median) {
		printf("\n");
		return r;
	}
	printf(" %8.2f |",
	       total(rep->ru) > 0 ? total(nat->ru) / total(rep->ru) : 0);
	for (p = 0; p < PH_N; p++)
		printf(" %4s", "");
	printf(" %5.2f\n", total(nat->sys) / total(rep->sys));
	return r;
}

/* One table, mean or median; the verdict line against the target */
static void cpu_table(const struct row *rows, int nrows, bool median)
{
	const struct row *nat, *rep;
	char line[512] = "";
	bool met = true, any = false;
	int i, p, len = 0;
	double r;

	if (median)
		printf("%14s %s\n", "", "CPU us per connection: median call");
	else
		printf("%14s %-44s %8s | %s\n", "",
		       "CPU us per connection: mean over the batch", "",
		       "syscalls per move");
	printf("%6s %-7s", "N", "backend");
	for (p = 0; p < PH_N; p++)
		printf(" %8s", phase_name[p]);
	printf(" %8s", "total");
	if (median)
		printf("\n");
	else
		printf(" %8s | %4s %4s %4s %4s %5s\n", "rusage", "dump", "crt",
		       "act", "disc", "total");
	for (i = 0; i < nrows; i++) {
		print_cpu_row(&rows[i], median);
		if (rows[i].backend != TCPCP_BACKEND_REPAIR)
			continue;
		rep = &rows[i];
		nat = partner(rows, nrows, i);
		if (!nat || !rep->ok || per_conn_total(rep, median) <= 0)
			continue;
		r = print_ratio(nat, rep, median);
		any = true;
		met &= r <= RATIO_TARGET;
		len += snprintf(line + len, sizeof(line) - len, "%sN=%d %.2f",
				len ? ", " : "", rep->n, r);
		if (len >= (int)sizeof(line))
			len = sizeof(line) - 1;
	}
	if (any)
		printf("native/repair CPU per connection (%s): %s (target <= "
		       "%.2f): %s\n",
		       median ? "median call" : "mean", line, RATIO_TARGET,
		       met ? "met" : "NOT met");
}

static void report_cpu(const struct row *rows, int nrows)
{
	bool sys_met = true, any = false;
	int i;

	printf("\nCPU time per connection, us: the thread CPU time "
	       "(CLOCK_THREAD_CPUTIME_ID) spent in the\nlibrary's calls "
	       "(clocksource %s, clock step %.1f us).  Mean = summed over the "
	       "batch of N\nand divided by N; median = the median call "
	       "(robust to interrupts and to the host\ndescheduling a VM's "
	       "CPU, which a guest's thread clock counts as running).\n",
	       clocksource, US(step_cpu));
	cpu_table(rows, nrows, false);
	printf("\n");
	cpu_table(rows, nrows, true);
	for (i = 0; i < nrows; i++)
		if (rows[i].ok && rows[i].backend == TCPCP_BACKEND_NATIVE) {
			any = true;
			if (total(rows[i].sys) > SYSCALL_TARGET)
				sys_met = false;
		}
	if (any)
		printf("native syscalls per move (dump+create+activate+"
		       "discard): target <= %d: %s\n",
		       SYSCALL_TARGET, sys_met ? "met" : "NOT met");
	printf("dump = tcpcp_dump at a; create = tcpcp_create_ex at b; "
	       "activate = tcpcp_activate_ex at b;\ndiscard = tcpcp_discard "
	       "and close() at a (close is the application's, its syscall is "
	       "not\ncounted).  rusage = getrusage(RUSAGE_THREAD) user+sys "
	       "over each phase's whole loop, the\nbench's own pipe I/O "
	       "included, tick-sampled (a cross-check, not the figure).  "
	       "sys = the\nlibrary's syscalls per move (libc calls wrapped at "
	       "link time; malloc's brk/mmap not\ncounted).  CPU time includes "
	       "the softirq work the kernel does in the caller's context\n"
	       "(the lab's veth hops: what an activation transmits is "
	       "forwarded and received in it).\n");
}

void report(const struct row *rows, int nrows)
{
	int i;

	printf("\n");
	print_head();
	for (i = 0; i < nrows; i++)
		print_row(&rows[i]);
	printf("\nfreeze->activated, ms from the first dump: all dumped at a, "
	       "all created at b,\nre-routed, all discarded at a, "
	       "first and last activation at b;\nthe time spent in all "
	       "tcpcp_dump and all tcpcp_create_ex calls\n");
	printf("%6s %-6s %9s %9s %9s %9s %9s %9s %9s %9s\n", "N", "backnd",
	       "dumped", "created", "routed", "discarded", "act.first",
	       "act.last", "sum get", "sum crt");
	for (i = 0; i < nrows; i++)
		if (rows[i].ok)
			printf("%6d %-6s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f "
			       "%9.1f %9.1f\n",
			       rows[i].n, tcpcp_backend_name(rows[i].backend),
			       MS(rows[i].dumped), MS(rows[i].created),
			       MS(rows[i].routed), MS(rows[i].discarded),
			       MS(rows[i].freeze - rows[i].act_all),
			       MS(rows[i].freeze), MS(rows[i].sum_get),
			       MS(rows[i].sum_create));
	printf("get = tcpcp_dump at a, crt = tcpcp_create_ex at b, act = "
	       "tcpcp_activate_ex at b; freeze->activ. =\nfirst dump to last "
	       "activation; activate all = first to last activation.\n"
	       "Peer: gaps between consecutive reads of one connection; move = "
	       "the largest from the move's\nstart to the read with b's first "
	       "byte (max and median over connections);\nafter = the largest "
	       "gap after it (streaming at b); base = the largest gap before "
	       "the\nmove began (streaming at a)%s.\n",
	       opt_pcap ?
		       ";\npcapcheck = the capture at the peer: max_stall_ms "
		       "and verdict (no RST, no SYN, ...)" :
		       "");
	report_cpu(rows, nrows);
}

/* Packets tcpdump lost ("N packets dropped by kernel" in FILE.log) */
static long pcap_dropped(const char *file)
{
	char log[320], line[256];
	long n = -1;
	FILE *f;

	snprintf(log, sizeof(log), "%s.log", file);
	f = fopen(log, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "dropped by kernel"))
			n = atol(line);
	if (f)
		fclose(f);
	return n;
}

/*
 * pcapcheck's verdict and max_stall_ms; its exit status.  A capture that
 * lost packets (tcpdump falls behind at 1000 streams on 2 cores) is
 * "lossy": missing ACKs make pcapcheck see false violations and gaps.
 */
int pcap_verdict(struct lab *l, const char *file, struct row *row)
{
	long dropped = pcap_dropped(file);
	char out[4096], *p;
	int rc;

	rc = lab_pcapcheck(l, file, AF_INET, true, true, out, sizeof(out));
	snprintf(row->pcap, sizeof(row->pcap), "%s",
		 dropped ? "lossy" :
		 rc == 0 ? "ok" :
		 rc == 1 ? "FAIL" :
			   "error");
	p = strstr(out, "max_stall_ms=");
	row->pcap_stall = p ? atof(p + 13) : -1;
	if (dropped)
		fprintf(stderr,
			"bench: N=%d: tcpdump dropped %ld packets (%s); "
			"pcapcheck: %s\n",
			row->n, dropped, dropped < 0 ? "no count" : "lossy",
			rc ? "FAIL (not trusted)" : "ok");
	else if (rc)
		fprintf(stderr, "bench: pcapcheck: %s\n", out);
	return dropped ? 0 : rc;
}
