// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What it costs to carry a value from an allocator's entry to its return,
 * for make bench (bench/handoff.c): a per-thread hash map, as memlens kept
 * every thread's state (looked up or made at the entry, looked up at the
 * return); a thread slot, as it keeps them now (struct thread_slot in
 * allocs.bpf.c, without its fallback to the map); task storage (5.11);
 * the cookie of a uprobe session (6.13); and empty programs, an entry and
 * a return probe or a session, for the floors. Each carries the size
 * argument and adds it to a counter, so nothing is optimised away. And,
 * below, the least an exact leak tracer does ("bare").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;

struct call {
	__u64 size;
	__u64 sp;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call);
} task_calls SEC(".maps");

__u64 carried;

SEC("uprobe.multi")
int map_enter(struct pt_regs *ctx)
{
	static const struct call zero;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);

	if (!c) {
		bpf_map_update_elem(&calls, &tid, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&calls, &tid);
		if (!c)
			return 0;
	}
	c->size = PT_REGS_PARM1(ctx);
	c->sp = PT_REGS_SP(ctx);
	return 0;
}

SEC("uretprobe.multi")
int map_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);

	if (c)
		__sync_fetch_and_add(&carried, c->size);
	return 0;
}

SEC("uprobe.multi")
int task_enter(struct pt_regs *ctx)
{
	struct call *c = bpf_task_storage_get(&task_calls, bpf_get_current_task_btf(), NULL,
					      BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!c)
		return 0;
	c->size = PT_REGS_PARM1(ctx);
	c->sp = PT_REGS_SP(ctx);
	return 0;
}

SEC("uretprobe.multi")
int task_return(struct pt_regs *ctx)
{
	struct call *c = bpf_task_storage_get(&task_calls, bpf_get_current_task_btf(), NULL, 0);

	if (c)
		__sync_fetch_and_add(&carried, c->size);
	return 0;
}

SEC("uprobe.multi")
int cookie_session(struct pt_regs *ctx)
{
	__u64 *cookie = bpf_session_cookie();

	if (!bpf_session_is_return()) {
		*cookie = PT_REGS_PARM1(ctx);
		return 0;
	}
	__sync_fetch_and_add(&carried, *cookie);
	return 0;
}

struct slot {
	__u32 tid;
	__u32 claims;
	struct call call;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

static struct slot *slot_of(__u32 tid)
{
	__u32 idx = tid & 1023;

	return bpf_map_lookup_elem(&slots, &idx);
}

SEC("uprobe.multi")
int slot_enter(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct slot *s = slot_of(tid);

	if (!s)
		return 0;
	if (s->tid != tid) {
		if (s->tid)
			return 0;
		__sync_fetch_and_add(&s->claims, 1);
		if (s->claims != 1) {
			__sync_fetch_and_add(&s->claims, -1);
			return 0;
		}
		s->tid = tid;
	}
	s->call.size = PT_REGS_PARM1(ctx);
	s->call.sp = PT_REGS_SP(ctx);
	return 0;
}

SEC("uretprobe.multi")
int slot_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct slot *s = slot_of(tid);

	if (s && s->tid == tid)
		__sync_fetch_and_add(&carried, s->call.size);
	return 0;
}

/*
 * The least an exact leak tracer does, a lower bound for make bench's
 * "bare" row: the size from malloc's entry to its return in a thread slot
 * (slot_enter), the block put at the return in a small direct-mapped table
 * that the bench's 1000 live blocks keep warm, and taken out at the free
 * when it is there. No stack, no clock, no counter, no map behind the
 * table: a block whose place another holds is overwritten, which an exact
 * tracer could not do.
 */
struct block {
	__u64 addr;
	__u64 size;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct block);
} blocks SEC(".maps");

static struct block *block_of(__u64 addr)
{
	__u32 idx = (__u32)((addr >> 4) * 0x9e3779b97f4a7c15ULL >> 52);

	return bpf_map_lookup_elem(&blocks, &idx);
}

SEC("uretprobe.multi")
int bare_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 addr = PT_REGS_RC(ctx);
	struct slot *s = slot_of(tid);
	struct block *b;

	if (!s || s->tid != tid || !addr)
		return 0;
	b = block_of(addr);
	if (!b)
		return 0;
	b->addr = addr;
	b->size = s->call.size;
	return 0;
}

SEC("uprobe.multi")
int bare_free(struct pt_regs *ctx)
{
	__u64 addr = PT_REGS_PARM1(ctx);
	struct block *b = block_of(addr);

	if (b && b->addr == addr)
		b->addr = 0;
	return 0;
}

SEC("uprobe.multi")
int empty_enter(struct pt_regs *ctx)
{
	return 0;
}

SEC("uretprobe.multi")
int empty_return(struct pt_regs *ctx)
{
	return 0;
}

SEC("uprobe.multi")
int empty_session(struct pt_regs *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
