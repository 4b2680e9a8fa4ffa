/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SpAtten driver: tracepoints (events/spatten/ in tracefs).
 */
#if !defined(SPATTEN_TRACE_REASONS)
#define SPATTEN_TRACE_REASONS

/* Why the device was reset or stopped (spatten_reset @reason). */
#define SPATTEN_RESET_TIMEOUT		0	/* a job hung */
#define SPATTEN_RESET_PCI		1	/* PCI function reset */
#define SPATTEN_RESET_SUSPEND		2	/* system sleep */
#define SPATTEN_RESET_RESUME		3
#define SPATTEN_RESET_RUNTIME_SUSPEND	4	/* idle (runtime PM) */
#define SPATTEN_RESET_RUNTIME_RESUME	5
#define SPATTEN_RESET_HANG		6	/* a kernel NOP hung */

#endif

#undef TRACE_SYSTEM
#define TRACE_SYSTEM spatten

#if !defined(SPATTEN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define SPATTEN_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

TRACE_EVENT(spatten_job_submit,
	    TP_PROTO(u64 client, u64 seqno, u16 opcode, u32 queue),
	    TP_ARGS(client, seqno, opcode, queue),
	    TP_STRUCT__entry(__field(u64, client)
			     __field(u64, seqno)
			     __field(u16, opcode)
			     __field(u32, queue)),
	    TP_fast_assign(__entry->client = client;
			   __entry->seqno = seqno;
			   __entry->opcode = opcode;
			   __entry->queue = queue;),
	    TP_printk("client=%llu seqno=%llu opcode=%u queue=%u",
		      __entry->client, __entry->seqno, __entry->opcode,
		      __entry->queue)
);

TRACE_EVENT(spatten_job_run,
	    TP_PROTO(u32 queue, u32 tag, u64 seqno),
	    TP_ARGS(queue, tag, seqno),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, tag)
			     __field(u64, seqno)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->tag = tag;
			   __entry->seqno = seqno;),
	    TP_printk("queue=%u tag=%#x seqno=%llu",
		      __entry->queue, __entry->tag, __entry->seqno)
);

TRACE_EVENT(spatten_job_complete,
	    TP_PROTO(u32 queue, u32 tag, u64 seqno, u16 status, u64 engine_ns),
	    TP_ARGS(queue, tag, seqno, status, engine_ns),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, tag)
			     __field(u64, seqno)
			     __field(u16, status)
			     __field(u64, engine_ns)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->tag = tag;
			   __entry->seqno = seqno;
			   __entry->status = status;
			   __entry->engine_ns = engine_ns;),
	    TP_printk("queue=%u tag=%#x seqno=%llu status=%u engine_ns=%llu",
		      __entry->queue, __entry->tag, __entry->seqno,
		      __entry->status, __entry->engine_ns)
);

TRACE_EVENT(spatten_job_timeout,
	    TP_PROTO(u64 client, u64 seqno, u32 queue),
	    TP_ARGS(client, seqno, queue),
	    TP_STRUCT__entry(__field(u64, client)
			     __field(u64, seqno)
			     __field(u32, queue)),
	    TP_fast_assign(__entry->client = client;
			   __entry->seqno = seqno;
			   __entry->queue = queue;),
	    TP_printk("client=%llu seqno=%llu queue=%u",
		      __entry->client, __entry->seqno, __entry->queue)
);

TRACE_EVENT(spatten_reset,
	    TP_PROTO(u32 reason, int result),
	    TP_ARGS(reason, result),
	    TP_STRUCT__entry(__field(u32, reason)
			     __field(int, result)),
	    TP_fast_assign(__entry->reason = reason;
			   __entry->result = result;),
	    TP_printk("reason=%s result=%d",
		      __print_symbolic(__entry->reason,
				       { SPATTEN_RESET_TIMEOUT, "timeout" },
				       { SPATTEN_RESET_PCI, "pci" },
				       { SPATTEN_RESET_SUSPEND, "suspend" },
				       { SPATTEN_RESET_RESUME, "resume" },
				       { SPATTEN_RESET_RUNTIME_SUSPEND,
					 "runtime_suspend" },
				       { SPATTEN_RESET_RUNTIME_RESUME,
					 "runtime_resume" },
				       { SPATTEN_RESET_HANG, "hang" }),
		      __entry->result)
);

#endif /* SPATTEN_TRACE_H */

/* Out of tree: Kbuild puts this directory on the include path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE spatten_trace
#include <trace/define_trace.h>
