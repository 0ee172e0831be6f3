package dev.lake.linear;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Ids for the tokens of sandboxes and transactions, unique across every lake, view and arena of the process, so
 * that a token handed to the wrong allocator never matches one of its own open scopes (per-allocator counters
 * would give every allocator the same first token). Each allocator takes ids in blocks: one atomic add per
 * {@value #BLOCK} scopes, the rest is an increment and a test of its low bits ({@link #next}). Lake's
 * {@link Sandbox} objects do without: each holds its lake, so a count down from -1 per lake or view is enough, and
 * no token (whose id is the upper 48 bits of a {@code long}, never negative) can name one.
 *
 * <p>A token keeps an id above 16 depth bits, so every id is below {@link #ID_LIMIT} (2^48): after
 * {@link #BLOCKS} blocks (2^32 - 1) the blocks start again from the first. Every fresh allocator takes a block at its
 * first token, so that is 2^48 ids for allocators that use their blocks up, but only 2^32 - 1 tokens for a process
 * that opens one scope on a fresh view per message (about 72 minutes at a million a second). From then on a
 * misplaced token can match a scope opened a full round of blocks earlier and still open, in the allocator that drew
 * the same block; correct code is unaffected.
 */
final class TokenIds
{
    /** Ids per block. */
    static final long BLOCK = 1 << 16;

    /** Every id is below this: a token shifts it left by 16 bits and must not lose any. */
    static final long ID_LIMIT = 1L << 48;

    /** Blocks before the ids start again from the first block: the last one ends below {@link #ID_LIMIT}. */
    static final long BLOCKS = (ID_LIMIT - 2) / BLOCK;

    // Starts at 1: the first id handed out is 2, so 0 (no scope) and 1 are never ids. Counts on past ID_LIMIT; the
    // block is taken from it modulo BLOCKS.
    private static final AtomicLong NEXT = new AtomicLong(1);

    /** What an allocator's last id is before its first: {@link #next} takes a fresh block for it. */
    static final long NONE = -1;

    private TokenIds()
    {
    }

    /**
     * @return the id before a fresh block: the block's ids are the {@value #BLOCK} numbers after it, all between 2
     * and {@link #ID_LIMIT} (exclusive).
     */
    static long block()
    {
        final long raw = NEXT.getAndAdd(BLOCK);
        return 1 + Math.floorMod((raw - 1) / BLOCK, BLOCKS) * BLOCK;
    }

    /**
     * The id after {@code last} (an allocator's previous id, or {@link #NONE}): the next one of its block, or the
     * first of a fresh block once the block is used up. One increment and one test of the low bits on the common
     * path: a block's ids run from 2 past a multiple of {@link #BLOCK} to 1 past the next multiple, and this stops at
     * that multiple (never returned), so the block's last two ids go unused and no id is handed out twice.
     *
     * @param last the previous id this allocator handed out, or {@link #NONE}.
     * @return a new id, unique in the process until the blocks come round again (see the class comment).
     */
    static long next(final long last)
    {
        final long id = last + 1;
        return (id & (BLOCK - 1)) != 0 ? id : block() + 1;
    }
}
