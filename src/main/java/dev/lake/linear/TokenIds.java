package dev.lake.linear;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Ids for the tokens of sandboxes and transactions, unique across every lake, view and arena of the process, so
 * that a token handed to the wrong allocator never matches one of its own open scopes (per-allocator counters
 * would give every allocator the same first token). Each allocator takes ids in blocks: one atomic add per
 * {@value #BLOCK} scopes, the rest is a compare and an increment.
 */
final class TokenIds
{
    /** Ids per block. */
    static final long BLOCK = 1 << 16;

    // Starts at 1: the first id handed out is 2, so 0 (no scope) and 1 are never ids.
    private static final AtomicLong NEXT = new AtomicLong(1);

    private TokenIds()
    {
    }

    /**
     * @return the id before a fresh block: the block's ids are the {@value #BLOCK} numbers after it.
     */
    static long block()
    {
        return NEXT.getAndAdd(BLOCK);
    }
}
