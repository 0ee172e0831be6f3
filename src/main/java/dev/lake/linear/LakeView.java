package dev.lake.linear;

/**
 * A tributary of a lake: a sub-allocator over a range carved out of its parent's free space by
 * {@link LakeAllocator#split(int)}. It has its own position, marks, snapshots, sandboxes, droplets, reset,
 * clear and zeroing switch, and can be split again (recursive views for recursive-descent parsers or per-node
 * scratch space). It allocates only inside its own range and never moves its parent's position.
 *
 * <p>For its parent the view is one allocation. Rewinding or resetting the parent below the view's end, or
 * closing the lake, invalidates the view for good: every later call on it that allocates, rewinds, resets or
 * opens a handle, and every use of its droplets, snapshots and sandboxes, throws
 * {@link dev.lake.memory.StaleHandleException}; its status queries still answer ({@link #isValid()} false,
 * {@link #used()}, {@link #remaining()}, {@link #markDepth()} and {@link #openSandboxes()} 0) and
 * {@link #close()} does nothing. The view shares its lake's {@link #buffer()}, and its offsets are absolute in
 * it.
 *
 * <p>Cost: a view is one object holding no native memory; its arrays (marks, sandboxes, epochs) start empty
 * and grow only when used. Its validity check is O(1) unless something in the lake rewound since the last
 * check, then O(depth of the view). Not thread-safe.
 */
public final class LakeView extends LakeAllocator implements AutoCloseable
{
    LakeView(
        final LakeAllocator parent,
        final int from,
        final int start,
        final int end,
        final int tokenIndex,
        final long tokenId)
    {
        super(parent, parent.buffer, parent.misalignment, start, end, parent.zeroing, parent.zeroing,
            from, tokenIndex, tokenId);
    }

    /**
     * @return the lake or view this view was split from.
     */
    public LakeAllocator parent()
    {
        return parent;
    }

    /**
     * @return the lake this view ultimately belongs to.
     */
    public Lake lake()
    {
        return root;
    }

    /**
     * Ends the view's use: resets it (its droplets become invalid; its bytes are wiped if it is zeroing) and,
     * if the view is its parent's last allocation and no mark or sandbox of the parent was opened after it,
     * gives its bytes back to the parent (the view then becomes invalid). Otherwise the view stays valid and
     * empty, and its bytes come back with the parent's next rewind below it. Does nothing on an invalid view.
     * O(1) (plus O(used) with zeroing).
     *
     * @throws IllegalStateException if the lake is {@linkplain Lake#confineTo(Thread) confined} to another thread
     *                               (nothing changes).
     */
    @Override
    public void close()
    {
        if (!alive())
        {
            return;
        }
        rewindTo(start);
        parent.releaseIfLast(tokenFrom, limit, tokenIndex);
    }

    @Override
    public String toString()
    {
        return "LakeView[" + start + ".." + limit + " of " + root.getClass().getSimpleName() + "]";
    }
}
