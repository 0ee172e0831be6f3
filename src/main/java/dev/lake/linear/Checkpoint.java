package dev.lake.linear;

/**
 * A position of one {@link Arena}, to {@link Arena#rewind(Checkpoint) rewind} to: an immutable value of two
 * longs and the arena it belongs to. O(1) to take and to check.
 *
 * <p>Not a record on purpose: a record's constructor is public, so a forged checkpoint could point into the
 * middle of a live allocation. Checkpoints come only from {@link Arena#checkpoint()} and
 * {@link Transaction#checkpoint()}.
 *
 * <p>A checkpoint is valid until the arena is rewound strictly below it (by a rewind to an older checkpoint,
 * a rollback, a reset) or closed; after that {@link Arena#rewind(Checkpoint)} throws
 * {@link dev.lake.memory.StaleHandleException}, even once the arena has grown past the position again,
 * because the bytes there now belong to other allocations. Rewinding to the same checkpoint twice is allowed.
 */
public final class Checkpoint
{
    final Arena arena;
    final long position;
    final long clock;

    Checkpoint(final Arena arena, final long position, final long clock)
    {
        this.arena = arena;
        this.position = position;
        this.clock = clock;
    }

    /**
     * @return index of the block the position lies in.
     */
    public int block()
    {
        return (int)(position >>> 32);
    }

    /**
     * @return offset of the position in its block.
     */
    public int offset()
    {
        return (int)position;
    }

    /**
     * @return whether rewinding to this checkpoint would still succeed as far as staleness goes (it may still
     * be refused when it lies before the start of an open transaction).
     */
    public boolean isValid()
    {
        return !arena.isClosed() && !arena.isStale(position, clock);
    }

    @Override
    public boolean equals(final Object other)
    {
        if (this == other)
        {
            return true;
        }
        if (!(other instanceof Checkpoint))
        {
            return false;
        }
        final Checkpoint that = (Checkpoint)other;
        return arena == that.arena && position == that.position && clock == that.clock;
    }

    @Override
    public int hashCode()
    {
        return Long.hashCode(position) * 31 + Long.hashCode(clock);
    }

    @Override
    public String toString()
    {
        return "Checkpoint[block " + block() + ", offset " + offset() + ", tick " + clock + "]";
    }
}
