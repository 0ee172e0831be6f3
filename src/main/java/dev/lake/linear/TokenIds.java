package dev.lake.linear;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Ids for the tokens of sandboxes and transactions, unique across every lake, view and arena of the process, so
 * that a token handed to the wrong allocator never matches one of its own open scopes (per-allocator counters
 * would give every allocator the same first token). Each allocator takes ids in blocks, one atomic increment per
 * block; the rest is an increment and a test of its low bits ({@link #next}). Lake's {@link Sandbox} objects do
 * without: each holds its lake, so a count down from -1 per lake or view is enough, and no token (whose id is the
 * upper 48 bits of a {@code long}, never negative) can name one.
 *
 * <p>Blocks grow with use: an allocator's first block has {@value #FIRST_BLOCK} ids, each next one twice as many,
 * up to {@value #BLOCK}. A process that makes a fresh view per message and opens one scope on it then spends 16
 * ids a message, not a whole large block, and one that opens thousands on a long-lived allocator still pays one
 * atomic instruction per 65,536. Each block size has its own region of the 48-bit id space (the first blocks half
 * of it, so that fresh allocators, the common case, wrap last), and a block's ids run from 1 past a multiple of its
 * size to 1 before the next multiple: an id's region says its block size, so the end of a block is found from the
 * id alone, with no field per allocator. The blocks of a region come round again only after about 2^42 tokens
 * have been handed out in the process (about 50 days at a million a second; 2^43 for one scope per fresh
 * allocator; one long-lived allocator alone comes round to its own first large block after about 2^43); from then
 * on a misplaced token can match a scope opened a full round earlier and still open, in the allocator that drew the
 * same block. Correct code is unaffected.
 */
final class TokenIds
{
    /** Ids in an allocator's first block (one of them, the block's end, is never handed out). */
    static final long FIRST_BLOCK = 1 << 4;

    /** Ids in the largest block: where the doubling stops. */
    static final long BLOCK = 1 << 16;

    /** Every id is below this: a token shifts it left by 16 bits and must not lose any. */
    static final long ID_LIMIT = 1L << 48;

    /** Block sizes: {@link #FIRST_BLOCK} times 2^level, up to {@link #BLOCK}. */
    static final int LEVELS = 13;

    /** The first blocks take ids below this; every larger size has 2^{@value #REGION_SHIFT} ids above it. */
    private static final long FIRST_REGION = 1L << 47;

    private static final int REGION_SHIFT = 43;

    private static final int FIRST_SHIFT = 4;

    // Blocks taken per level; each counts on past its region's blocks, which are taken modulo their number.
    private static final AtomicLongArray NEXT = new AtomicLongArray(LEVELS);

    /** What an allocator's last id is before its first: {@link #next} takes a first block for it. */
    static final long NONE = -1;

    private TokenIds()
    {
    }

    /**
     * The id after {@code last} (an allocator's previous id, or {@link #NONE}): the next one of its block, or the
     * first of a fresh block once the block is used up. One increment and one test of the low bits, 15 times out of
     * 16; the 16th finds the block's size from the id's region.
     *
     * @param last the previous id this allocator handed out, or {@link #NONE}.
     * @return a new id, at least 2 and below {@link #ID_LIMIT}, unique in the process until the blocks come round
     * again (see the class comment).
     */
    static long next(final long last)
    {
        final long id = last + 1;
        return (id & (FIRST_BLOCK - 1)) != 0 ? id : nextAtBoundary(id);
    }

    private static long nextAtBoundary(final long id)
    {
        if (id <= 0) // the first token of an allocator
        {
            return firstOfBlock(0);
        }
        final int level = level(id);
        if ((id & ((FIRST_BLOCK << level) - 1)) != 0)
        {
            return id; // a multiple of 16 inside a larger block
        }
        return firstOfBlock(Math.min(level + 1, LEVELS - 1)); // the block's end: the next, larger block
    }

    /** @return the level (block size {@code FIRST_BLOCK << level}) of the region that holds {@code id}. */
    static int level(final long id)
    {
        return id < FIRST_REGION ? 0 : 1 + (int)((id - FIRST_REGION) >>> REGION_SHIFT);
    }

    /**
     * Takes a fresh block of {@code level}: one atomic increment. Level 0 skips its region's block 0 (0 and 1 are
     * never ids: 0 is a zeroed token variable's, 1 stands for no scope), and every level skips its region's last
     * block, whose end would be the first id of the next region and so would be read with the next region's size.
     *
     * @return the first id of the block.
     */
    static long firstOfBlock(final int level)
    {
        final int shift = FIRST_SHIFT + level;
        final long regionStart = level == 0 ? 0 : FIRST_REGION + ((long)(level - 1) << REGION_SHIFT);
        final long blocks = (level == 0 ? FIRST_REGION : 1L << REGION_SHIFT) >>> shift;
        final long skipped = level == 0 ? 1 : 0;
        final long index = skipped + Math.floorMod(NEXT.getAndIncrement(level), blocks - 1 - skipped);
        return regionStart + (index << shift) + 1;
    }

    /** @return how many blocks of {@code level} have been taken (tests). */
    static long blocksTaken(final int level)
    {
        return NEXT.get(level);
    }

    /** Sets how many blocks of {@code level} have been taken, to reach a region's wrap in a test's child JVM. */
    static void setBlocksTaken(final int level, final long count)
    {
        NEXT.set(level, count);
    }
}
