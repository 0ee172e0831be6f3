package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Arrays;
import java.util.Objects;

/**
 * The one bump allocator behind {@link Lake} (the root, which owns a {@link Region}) and {@link LakeView} (a
 * tributary carved out of a lake or of another view). Code that only allocates can take a
 * {@code LakeAllocator} and work on either.
 *
 * <h2>Two tiers</h2>
 * <ul>
 *   <li>Primitive tier: {@link #allocate(int)}, {@link #tryAllocate(int)}, {@link #allocateLongs(int)},
 *   {@link #place(Object, int, int, FlyweightWrapper)} return offsets into the one shared {@link #buffer()}
 *   and allocate no Java object. The offsets are not checked after the fact: they are plain ints.</li>
 *   <li>Handle tier: {@link #droplet(int)}, {@link #process(DropletWriter)}, {@link #split(int)},
 *   {@link #sandbox()}, {@link #snapshot()} return small objects that check on every use that their memory
 *   is still their own and throw {@link StaleHandleException} when it is not.</li>
 * </ul>
 *
 * <h2>Positions and validity</h2>
 * Every offset is absolute in {@link #buffer()} (the lake's region; views share it), so an offset from a view
 * can be used with the lake's buffer directly. The allocator's {@link #position()} only moves forward by
 * allocating and only moves back by a rewind: {@link #resetToMark()}, {@link #rewind(LakeSnapshot)},
 * {@link #reset()}, {@link #clear()}, a sandbox rollback, or closing the last droplet or view. A rewind to
 * position {@code t} gives back exactly the bytes at and above {@code t}: every droplet, view and snapshot
 * whose end lies above {@code t} becomes invalid for good (even when the position later moves past it again
 * and the bytes are handed out anew); everything at or below {@code t} stays valid. Marks above {@code t}
 * are discarded and sandboxes opened above {@code t} become invalid. Validity is exact, not a conservative
 * generation check: it is kept in a small stack of "epochs" (one entry per run of handles created between
 * two rewinds that still has live handles), so a check is O(1) and a rewind is amortised O(1).
 *
 * <h2>Costs</h2>
 * Allocation O(1) (plus O(size) with zeroing on); mark, moveMark, snapshot, sandbox open/commit O(1) and
 * garbage-free in steady state (the stacks are arrays that grow by doubling and are reused); every rewind
 * amortised O(1) (plus O(bytes given back) with zeroing on). Views check their parent chain lazily: O(1)
 * unless something in the lake was rewound since the last check, then O(depth).
 *
 * <h2>Threads</h2>
 * Not thread-safe, by design: one owner thread per lake (views included). Publish a lake to another thread
 * only with a happens-before edge and stop using it in the first.
 */
public abstract sealed class LakeAllocator permits Lake, LakeView
{
    /** What {@code tryAllocate} returns when the request does not fit. Never a valid offset. */
    public static final int NO_SPACE = -1;

    /** Deepest nesting the primitive sandbox tier ({@link #beginSandbox()}) can name. */
    public static final int MAX_TOKEN_DEPTH = 0xFFFF;
    private static final int TOKEN_DEPTH_BITS = 16;

    /** Alignment used when none is given: 8 bytes, enough for any primitive. */
    public static final int DEFAULT_ALIGNMENT = 8;

    /** Id of a dropped epoch: above every generation, so {@link #holdsSince} fails for its handles. */
    static final long DROPPED = Long.MAX_VALUE;

    /** Cap of an epoch no rewind has touched yet. */
    static final int UNCAPPED = Integer.MAX_VALUE;

    /** {@link #dirtyEnd} while zeroing is off: no offset is below it. */
    static final int NEVER_DIRTY = Integer.MIN_VALUE;

    private static final int[] NO_INTS = new int[0];
    private static final long[] NO_LONGS = new long[0];

    /** The root lake (this, for a lake). */
    final Lake root;
    /** The allocator this view was split from; null for the root. */
    final LakeAllocator parent;
    /** The region's buffer, shared by the root and all its views. */
    final UnsafeBuffer buffer;
    /** Absolute address of offset 0 of {@link #buffer}: droplets reach memory through it once checked. */
    final long address;
    /** Region address modulo the page size: aligns offsets on the absolute address. */
    final long misalignment;
    /** First offset of this allocator in {@link #buffer}. */
    final int start;
    /** One past the last offset of this allocator in {@link #buffer}. */
    final int limit;

    /** Next free offset. */
    int offset;
    /**
     * Highest end the unchecked fast path of {@link #bump8} may hand out: {@link #limit} while this is an open,
     * unconfined root lake that is not zeroing; -1 otherwise, which sends every allocation down the checked
     * path. One field instead of the guard, zeroing and limit checks: the fast path reads what a raw bump reads, in
     * {@code int} arithmetic as a raw bump does.
     */
    int fastLimit = -1;
    /** Times the offset moved back. */
    long generation;

    /** Wipe given-back memory and hand out zeroed memory. */
    boolean zeroing;
    /**
     * With zeroing on, every free byte at or above max(offset, dirtyEnd) reads zero, and free bytes below it
     * are zeroed as they are handed out. {@link #NEVER_DIRTY} while zeroing is off, so that the allocation
     * fast path tests one field.
     */
    int dirtyEnd;

    // Epoch stack (see class comment): entry i holds handles whose ends are >= minEnd(i); such a handle is
    // alive iff entry i still has the id it had when the handle joined and its end <= cap(i), the lowest
    // rewind target since entry i was the top. Invariants: minEnd(i) <= cap(i) <= minEnd(i + 1), so a rewind to
    // t kills exactly the entries with minEnd > t (the lowest of them is renewed in place with a fresh id and no
    // cap, the others are dropped) and only the top survivor's cap can change. One array, two longs per entry
    // so a check touches one cache line: epochs[2i] = id, epochs[2i + 1] = minEnd << 32 | cap (non-negative
    // ints). An id is the generation at which the entry was pushed or renewed (a renewal uses the generation
    // its rewind reaches), or DROPPED: every rewind bumps the generation, so ids at one index only grow.
    private long[] epochs = NO_LONGS;
    private int epochDepth;
    /** Highest epoch index that may hold a view (-1: none): rewinds that kill only other handles skip the stamp. */
    private int viewTop = -1;
    /**
     * Lowest target a rewind may reach by storing the offset alone: at or above the top epoch's cap, the top mark
     * and the top sandbox's start, so that nothing on any stack needs attention; {@link #UNCAPPED} (no such
     * rewind) while zeroing. Pushes raise it, pops leave it high, and the full rewind sets it exactly: a scope
     * that opens and closes at one position (mark, snapshot, sandbox rollback) rewinds with two stores.
     */
    private int rewindFloor = UNCAPPED;

    // Marks: non-decreasing from bottom to top, all <= offset.
    private int[] marks = NO_INTS;
    private int markDepth;

    // Open sandboxes: starts non-decreasing from bottom to top, all <= offset.
    private long[] sandboxIds = NO_LONGS;
    /**
     * Each open sandbox's start (low half) and the mark depth when it opened (high half: its rollback drops the marks
     * pushed inside it, even those at its start), in one long so that opening stores one word for both.
     */
    private long[] sandboxStarts = NO_LONGS;
    private int sandboxDepth;
    /** The id of the last sandbox token handed out ({@link TokenIds#next}): positive, unique in the process. */
    private long sandboxSequence = TokenIds.NONE;
    /**
     * The id of the last {@link Sandbox} object opened here: negative, counting down from -1, so that no token ever
     * matches one. An object holds its allocator, so its id needs to be unique only here: a plain decrement, where a
     * token's id costs a test for the end of its block (about 1 ns of a sandbox rolled back, measured).
     */
    private long sandboxObjectIds;

    // For a view: its registration in the parent, and a cache of the last successful validity check.
    final int tokenFrom;
    final int tokenIndex;
    private final long tokenId;
    private long validStamp;
    private boolean dead;

    LakeAllocator(
        final LakeAllocator parent,
        final UnsafeBuffer buffer,
        final long misalignment,
        final int start,
        final int limit,
        final boolean zeroing,
        final boolean clean,
        final int tokenFrom,
        final int tokenIndex,
        final long tokenId)
    {
        this.root = parent == null ? (Lake)this : parent.root;
        this.parent = parent;
        this.buffer = buffer;
        this.address = buffer.addressOffset();
        this.misalignment = misalignment;
        this.start = start;
        this.limit = limit;
        this.offset = start;
        this.zeroing = zeroing;
        this.dirtyEnd = !zeroing ? NEVER_DIRTY : clean ? start : limit;
        this.tokenFrom = tokenFrom;
        this.tokenIndex = tokenIndex;
        this.tokenId = tokenId;
        this.validStamp = parent == null ? 0 : parent.root.stamp;
        refreshFastLimit();
    }

    // ------------------------------------------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------------------------------------------

    /**
     * The one buffer every offset of this allocator (and of its lake and views) points into. Sharing it is
     * what makes placement zero-copy: hand it and an offset to any Agrona or SBE flyweight.
     *
     * <p>In strict mode ({@link Lake#confineTo(Thread)}) asking for it is a use of the lake like any other: another
     * thread (a pooled thread lake's former owner included) is refused here. What is done through a reference kept
     * from before, or through {@link Lake#address()}, is the unchecked tier: confinement cannot see it.
     *
     * @return the lake's buffer; capacity 0 once the lake is closed.
     * @throws IllegalStateException if the open lake is confined to another thread (one field read when it is not).
     */
    public final UnsafeBuffer buffer()
    {
        final Lake lake = root;
        if (lake.guard != 0)
        {
            lake.guardAllows(); // the guard every operation reads: throws for another thread, passes a closed lake
        }
        return buffer;
    }

    /**
     * @return whether this allocator can still be used: for a lake, not closed; for a view, its lake is open
     * and no ancestor rewound below the view. O(1), or O(depth) right after a rewind somewhere in the lake.
     */
    public final boolean isValid()
    {
        return alive();
    }

    /**
     * @return total bytes of this lake or view.
     */
    public final int capacity()
    {
        return limit - start;
    }

    /**
     * @return bytes handed out (alignment padding included); 0 once invalid.
     */
    public final int used()
    {
        return alive() ? offset - start : 0;
    }

    /**
     * @return bytes left; 0 once invalid.
     */
    public final int remaining()
    {
        return alive() ? limit - offset : 0;
    }

    /**
     * @return the next free offset in {@link #buffer()} (absolute: a view's positions lie inside its lake's).
     */
    public final int position()
    {
        return offset;
    }

    /**
     * @return first offset of this allocator in {@link #buffer()}: 0 for a lake.
     */
    public final int start()
    {
        return start;
    }

    /**
     * @return one past the last offset of this allocator in {@link #buffer()}.
     */
    public final int limit()
    {
        return limit;
    }

    /**
     * @return how many times the position moved back.
     */
    public final long generation()
    {
        return generation;
    }

    /**
     * @return depth of the mark stack.
     */
    public final int markDepth()
    {
        return alive() ? markDepth : 0;
    }

    /**
     * @return sandboxes open on this allocator (not committed, rolled back or invalidated); 0 once the lake is
     * closed or the view invalid.
     */
    public final int openSandboxes()
    {
        return alive() ? sandboxDepth : 0;
    }

    /**
     * @return an immutable snapshot of the counters. Allocates one small record.
     */
    public final LakeStats stats()
    {
        return new LakeStats(used(), remaining(), capacity(), generation, markDepth(), openSandboxes());
    }

    /**
     * @return whether given-back memory is wiped and handed-out memory reads zero.
     */
    public final boolean isZeroing()
    {
        return zeroing;
    }

    /**
     * Switches zeroing on or off for this allocator only (views split later inherit the setting). With
     * zeroing on, every rewind wipes the bytes it gives back before it returns (secrets do not linger), and
     * every allocation hands out bytes that read zero (free bytes that may hold old data are zeroed when
     * they are handed out, so switching on costs nothing up front). Costs O(bytes) on those paths; off by
     * default. A parent rewinding over a view wipes it only if the parent itself is zeroing: reset or close
     * a zeroing view before giving it back if its contents are sensitive. One limit: a {@link #process} writer is
     * trusted to write only the bytes it keeps; bytes it wrote past them (in free space) are not wiped, and a
     * later allocation may read them. A writer that handles secrets must clear what it does not keep.
     *
     * @param on whether to zero.
     * @return this allocator.
     * @throws IllegalStateException if the lake is confined to another thread or closed
     *                               ({@link StaleHandleException} for a stale view); nothing changes.
     */
    public final LakeAllocator setZeroing(final boolean on)
    {
        root.checkConfinement();
        checkAlive(); // "anything after close()", and a stale view: refused, and nothing changes
        if (on != zeroing)
        {
            // switching on: the free bytes may hold anything, zero them lazily as they are handed out
            dirtyEnd = on ? limit : NEVER_DIRTY;
        }
        zeroing = on;
        refreshFastLimit();
        return this;
    }

    // ------------------------------------------------------------------------------------------------------
    // Primitive tier
    // ------------------------------------------------------------------------------------------------------

    /**
     * Allocates {@code size} bytes aligned to {@link #DEFAULT_ALIGNMENT} on the absolute address. O(1), no
     * Java object.
     *
     * @param size bytes, at least 1.
     * @return offset of the first byte in {@link #buffer()}.
     * @throws IllegalArgumentException if {@code size <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int allocate(final int size)
    {
        return bump8(size, true);
    }

    /**
     * Allocates {@code size} bytes whose absolute address is a multiple of {@code alignment}. O(1), no Java
     * object; padding before the allocation counts as used and comes back with the rewind that frees it.
     *
     * @param size      bytes, at least 1.
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @return offset of the first byte in {@link #buffer()}.
     * @throws IllegalArgumentException if {@code size <= 0} or the alignment is not a power of two in range.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int allocate(final int size, final int alignment)
    {
        return bump(size, checkAlignment(alignment), true);
    }

    /**
     * Like {@link #allocate(int)} but returns {@link #NO_SPACE} (-1) instead of throwing when the request does
     * not fit. Bad sizes and a closed lake still throw: they are bugs, not capacity.
     *
     * @param size bytes, at least 1.
     * @return offset of the first byte, or {@link #NO_SPACE}.
     * @throws IllegalArgumentException if {@code size <= 0}.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int tryAllocate(final int size)
    {
        return bump8(size, false);
    }

    /**
     * Like {@link #allocate(int, int)} but returns {@link #NO_SPACE} (-1) instead of throwing when the
     * request does not fit.
     *
     * @param size      bytes, at least 1.
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @return offset of the first byte, or {@link #NO_SPACE}.
     * @throws IllegalArgumentException if {@code size <= 0} or the alignment is not a power of two in range.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int tryAllocate(final int size, final int alignment)
    {
        return bump(size, checkAlignment(alignment), false);
    }

    /**
     * Allocates room for {@code count} longs, aligned to 8 bytes: read and write them with
     * {@code buffer().getLong(offset + i * 8)}. O(1).
     *
     * @param count number of elements, at least 1.
     * @return offset of element 0.
     * @throws IllegalArgumentException if {@code count <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int allocateLongs(final int count)
    {
        return bump8(arrayBytes(count, Long.BYTES), true);
    }

    /**
     * Allocates room for {@code count} ints, aligned to 4 bytes. O(1).
     *
     * @param count number of elements, at least 1.
     * @return offset of element 0.
     * @throws IllegalArgumentException if {@code count <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int allocateInts(final int count)
    {
        return bump(arrayBytes(count, Integer.BYTES), Integer.BYTES, true);
    }

    /**
     * Allocates room for {@code count} doubles, aligned to 8 bytes. O(1).
     *
     * @param count number of elements, at least 1.
     * @return offset of element 0.
     * @throws IllegalArgumentException if {@code count <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final int allocateDoubles(final int count)
    {
        return bump8(arrayBytes(count, Double.BYTES), true);
    }

    /**
     * Allocates {@code size} aligned bytes and points {@code flyweight} at them (zero-copy placement of an SBE
     * encoder, an Aeron header flyweight, any type that wraps a buffer at an offset). With a non-capturing
     * method reference as {@code wrapper} this allocates no Java object once the allocator's handle stack has
     * grown to its working depth (the placement is registered there like a droplet, for the check below). If the
     * wrapper throws, the allocation is undone by a rewind to where it began (counted in {@link #generation()}):
     * whatever the wrapper made above that point (droplets, views, snapshots, marks, sandboxes) goes with it. A
     * wrapper that returns after closing the lake, or after rewinding this allocator below the placement's end at
     * any point while it ran (even if it then allocated past the end again), is refused
     * ({@link IllegalStateException}, the placement undone the same way): the flyweight would point at memory that
     * is freed or handed out again. Rewinds that stay at or above the end (scratch work above the placement) are
     * allowed. Detection is exact: O(1), the registration before the wrapper and one generation compare after it
     * (plus the epoch check when the wrapper rewound).
     *
     * @param flyweight the flyweight to point at the new memory.
     * @param size      bytes, at least 1.
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @param wrapper   how to wrap it, e.g. {@code MyEncoder::wrap}.
     * @param <F>       the flyweight type.
     * @return {@code flyweight}, now wrapping the new memory.
     * @throws IllegalArgumentException if {@code size <= 0} or the alignment is not a power of two in range.
     * @throws NullPointerException     if {@code flyweight} or {@code wrapper} is null.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view), or
     *                                  the wrapper closed it or rewound below the placement's end while it ran
     *                                  (whatever it allocated afterwards).
     */
    public final <F> F place(final F flyweight, final int size, final int alignment, final FlyweightWrapper<F> wrapper)
    {
        Objects.requireNonNull(flyweight, "flyweight");
        Objects.requireNonNull(wrapper, "wrapper");
        final int before = offset;
        final int at = bump(size, checkAlignment(alignment), true);
        final int end = at + size;
        final int index;
        final long id;
        final long rewinds = generation;
        boolean wrapped = false;
        try
        {
            // registered like a droplet (no object), so that a wrapper's rewind below the end is seen exactly, even
            // when the wrapper allocated past the end again before returning; inside the try, so that a registration
            // refused by a full heap (the stack's first growth) undoes the placement too
            index = register(end);
            id = epochs[index << 1];
            wrapper.wrap(flyweight, buffer, at);
            wrapped = true;
        }
        finally
        {
            if (!wrapped)
            {
                undoPlace(before);
            }
        }
        if (generation != rewinds || !alive())
        {
            checkPlacementKept(before, end, index, id);
        }
        return flyweight;
    }

    /**
     * After a wrapper that returned normally but rewound or closed this allocator: refuses to hand back a flyweight
     * over memory that is no longer the placement's (freed with the lake, or given back, whether or not handed out
     * again since). Exact, through the placement's registration in the epoch stack: a rewind that stayed at or above
     * the placement's end (scratch work above it) keeps the placement; one below it does not, even when the
     * wrapper then allocated past the end again.
     */
    private void checkPlacementKept(final int before, final int end, final int index, final long id)
    {
        if (!alive())
        {
            throw new IllegalStateException("the wrapper closed " + this + " (or its view's memory was rewound over) " +
                "while place() ran: the placed memory is gone");
        }
        if (!holds(index, id, end))
        {
            undoPlace(before);
            throw new IllegalStateException("the wrapper rewound " + this + " below the placed memory while place() " +
                "ran: the placement is undone");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Handle tier
    // ------------------------------------------------------------------------------------------------------

    /**
     * Allocates {@code size} bytes aligned to {@link #DEFAULT_ALIGNMENT} as a checked {@link Droplet}. O(1);
     * one small object, which the JIT removes when the droplet does not escape.
     *
     * @param size bytes, at least 1.
     * @return the droplet.
     * @throws IllegalArgumentException if {@code size <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final Droplet droplet(final int size)
    {
        final int from = offset;
        final int at = bump8(size, true);
        final int end = at + size;
        final long born = generation;
        try
        {
            return new Droplet(this, from, at, end, register(end), born);
        }
        catch (final Throwable refused)
        {
            offset = from; // see unbump
            throw refused;
        }
    }

    /**
     * Allocates {@code size} bytes at an aligned absolute address as a checked {@link Droplet}. O(1).
     *
     * @param size      bytes, at least 1.
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @return the droplet.
     * @throws IllegalArgumentException if {@code size <= 0} or the alignment is not a power of two in range.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final Droplet droplet(final int size, final int alignment)
    {
        final int from = offset;
        final int at = bump(size, checkAlignment(alignment), true);
        final int end = at + size;
        final long born = generation;
        try
        {
            return new Droplet(this, from, at, end, register(end), born);
        }
        catch (final Throwable refused)
        {
            offset = from; // see unbump
            throw refused;
        }
    }

    // unbump: droplet() and split() put the position back where it was when the heap refuses the handle (the object,
    // or the handle stack's growth), so that the call changes nothing, as its other refusals do. A plain store is
    // exact: no handle was made, the handle stack grows by a copy before any store, and a registration made before
    // the refusal holds no handle (its epoch entry only lives until the next rewind below it).

    /**
     * Lets {@code writer} fill the free space in place and keeps exactly the bytes it reports, as a droplet
     * (zero-copy: nothing is copied, unlike a writer that returns an array). Aligned to
     * {@link #DEFAULT_ALIGNMENT}.
     *
     * @param writer fills {@code [offset, offset + capacity)} and returns how many bytes to keep.
     * @return a droplet over the kept bytes (length 0 if the writer kept nothing).
     * @throws LakeOverflowException if the writer reports more bytes than it was given; nothing is kept.
     * @throws IllegalArgumentException if the writer reports a negative length; nothing is kept.
     * @throws IllegalStateException if the writer changed this allocator (allocated, rewound or closed it, even
     *                               an allocation it gave back before returning) while it ran; nothing is kept;
     *                               or if the lake is closed.
     * @see #process(int, DropletWriter)
     */
    public final Droplet process(final DropletWriter writer)
    {
        return process(DEFAULT_ALIGNMENT, writer);
    }

    /**
     * Lets {@code writer} fill the free space in place, starting at an aligned absolute address, and keeps
     * exactly the bytes it reports, as a droplet. If the writer throws or reports a bad length, nothing is
     * kept and the position is unchanged. With zeroing on, the writer is given zeroed memory and is trusted
     * to write only the bytes it reports; if it fails, the space it was given is treated as dirty and zeroed
     * before it is handed out again. O(1) plus the writer; with zeroing, plus the wipe of free space not yet
     * zeroed (all of it right after zeroing is switched on or a writer failed: O(capacity) then).
     *
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @param writer    fills {@code [offset, offset + capacity)} and returns how many bytes to keep.
     * @return a droplet over the kept bytes (length 0 if the writer kept nothing).
     * @throws IllegalArgumentException if the alignment is bad or the writer reports a negative length.
     * @throws LakeOverflowException    if the aligned start lies past the end (the writer is not called, nothing
     *                                  changes), or the writer reports more bytes than it was given (nothing is
     *                                  kept).
     * @throws IllegalStateException    if the writer allocated from, rewound or closed this allocator while it ran
     *                                  (even an allocation it gave back before returning: it was handed the
     *                                  writer's own output area), or the lake is closed
     *                                  ({@link StaleHandleException} for a stale view).
     */
    public final Droplet process(final int alignment, final DropletWriter writer)
    {
        checkAlive();
        checkAlignment(alignment);
        Objects.requireNonNull(writer, "writer");
        final int before = offset;
        final long rewinds = generation;
        final long aligned = alignUp(before, alignment);
        if (aligned > limit)
        {
            // refused as allocate refuses it: clamped to the limit, the writer got an unaligned offset, and keeping
            // nothing moved the position there (the lake full after a call that kept nothing)
            throw new LakeOverflowException(aligned - before, alignment, limit - before, capacity());
        }
        final int at = (int)aligned;
        final int capacity = limit - at;
        if (zeroing && before < dirtyEnd)
        {
            buffer.setMemory(before, dirtyEnd - before, (byte)0);
            dirtyEnd = before;
        }

        boolean kept = false;
        try
        {
            final int length = writer.write(buffer, at, capacity);
            // the generation too: an allocation the writer gave back (a scratch droplet closed, a mark reset to) left
            // the position where it was, but it was handed the writer's own output area and may have wiped it
            if (!alive() || offset != before || generation != rewinds)
            {
                throw new IllegalStateException(
                    "the writer changed " + this + " while process() ran: nothing was kept");
            }
            if (length < 0)
            {
                throw new IllegalArgumentException("the writer reported a negative length: " + length);
            }
            if (length > capacity)
            {
                throw new LakeOverflowException(length, alignment, capacity, capacity());
            }
            final int end = at + length;
            // the handle before the position moves: a full heap refusing it (the object, or the handle stack's
            // growth) then keeps nothing, as the documented refusals do
            final Droplet droplet = new Droplet(this, before, at, end, register(end), generation);
            offset = end;
            kept = true;
            return droplet;
        }
        finally
        {
            if (!kept && zeroing)
            {
                dirtyEnd = limit;
            }
        }
    }

    /**
     * Carves a {@link LakeView} of {@code length} bytes, aligned to {@link #DEFAULT_ALIGNMENT}, out of the free
     * space. The view allocates, marks, rewinds and resets on its own without touching memory outside itself;
     * for this allocator it is one allocation, and rewinding this allocator below the view's end invalidates
     * the view and everything allocated from it. O(1), one object.
     *
     * @param length bytes, at least 1.
     * @return the view (it inherits this allocator's zeroing switch).
     * @throws IllegalArgumentException if {@code length <= 0}.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final LakeView split(final int length)
    {
        return split(length, DEFAULT_ALIGNMENT);
    }

    /**
     * Carves a {@link LakeView} of {@code length} bytes whose first byte is aligned to {@code alignment}.
     *
     * @param length    bytes, at least 1.
     * @param alignment a power of two up to {@link Memory#pageSize()}.
     * @return the view.
     * @throws IllegalArgumentException if {@code length <= 0} or the alignment is bad.
     * @throws LakeOverflowException    if it does not fit; nothing changes.
     * @throws IllegalStateException    if the lake is closed ({@link StaleHandleException} for a stale view).
     * @see #split(int)
     */
    public final LakeView split(final int length, final int alignment)
    {
        final int from = offset;
        final int at = bump(length, checkAlignment(alignment), true);
        final int end = at + length;
        try
        {
            final int index = register(end);
            if (index > viewTop)
            {
                viewTop = index; // left raised if the view is refused: it only costs a revalidation
            }
            return new LakeView(this, from, at, end, index, epochs[index << 1]);
        }
        catch (final Throwable refused)
        {
            offset = from; // see unbump
            throw refused;
        }
    }

    /**
     * Opens a {@link Sandbox} at the current position: on {@link Sandbox#commit()} everything allocated since
     * is kept; on {@link Sandbox#close()} without commit it is rolled back. Sandboxes nest (LIFO). O(1), one
     * small object, no garbage from the stack in steady state.
     *
     * @return the open sandbox.
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final Sandbox sandbox()
    {
        checkAlive();
        final int depth = sandboxDepth;
        final long id = sandboxObjectIds - 1;
        // built before the push: a refused construction (a full heap, a stack overflow at the call) opens nothing
        final Sandbox sandbox = new Sandbox(this, depth, id, offset, markDepth);
        pushSandbox(id);
        sandboxObjectIds = id;
        return sandbox;
    }

    /**
     * Opens a sandbox on the primitive tier: the same sandbox as {@link #sandbox()}, named by a {@code long}
     * token instead of a {@link Sandbox} object, so that a hot loop allocates nothing even where escape analysis
     * cannot remove the handle. End it in a {@code finally}:
     * <pre>{@code
     * long s = lake.beginSandbox();
     * try { ...; lake.commitSandbox(s); } finally { lake.endSandbox(s); }
     * }</pre>
     * O(1); no object.
     *
     * @return the token: the sandbox's id and depth; never reused.
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view), or
     *                               sandboxes nest deeper than {@value #MAX_TOKEN_DEPTH} (use {@link Sandbox}).
     */
    public final long beginSandbox()
    {
        final int depth = sandboxDepth;
        if (depth >= MAX_TOKEN_DEPTH)
        {
            throw new IllegalStateException("sandbox tokens nest at most " + MAX_TOKEN_DEPTH + " deep");
        }
        // a token of another lake or view never matches an open sandbox here; alive first, so that a closed lake
        // asked again and again does not take a fresh block each time
        checkAlive();
        final long id = TokenIds.next(sandboxSequence);
        pushSandbox(id);
        sandboxSequence = id;
        return (id << TOKEN_DEPTH_BITS) | depth;
    }

    /**
     * Commits the sandbox of a token from {@link #beginSandbox()}: everything allocated since it began is kept.
     * O(1).
     *
     * @param token the sandbox's token.
     * @throws StaleHandleException  if the sandbox already ended, or a rewind moved below its start.
     * @throws IllegalStateException if a sandbox opened inside it is still open (nothing changes).
     */
    public final void commitSandbox(final long token)
    {
        final int depth = (int)(token & MAX_TOKEN_DEPTH);
        checkTokenOpen(depth, token >>> TOKEN_DEPTH_BITS, "commit");
        popSandbox(depth);
    }

    /**
     * Ends the sandbox of a token from {@link #beginSandbox()}: rolls it back to where it began unless it was
     * committed, already ended or invalidated by a rewind (then does nothing). O(1) amortised (plus O(bytes)
     * with zeroing).
     *
     * @param token the sandbox's token.
     * @throws IllegalStateException if a sandbox opened inside it is still open (nothing changes).
     */
    public final void endSandbox(final long token)
    {
        final int depth = (int)(token & MAX_TOKEN_DEPTH);
        // sandboxActive and checkNoInnerSandbox written out: in a finally after a body that overflowed the stack,
        // every frame between the checks and the end counts (endThenRewind ends the sandbox before any deeper call)
        if (!alive() || depth >= sandboxDepth || sandboxIds[depth] != token >>> TOKEN_DEPTH_BITS)
        {
            return;
        }
        if (sandboxDepth > depth + 1)
        {
            checkNoInnerSandbox(depth, "end"); // throws: nothing changes
        }
        final long opened = sandboxStarts[depth];
        endThenRewind(depth, (int)(opened >>> 32), (int)opened); // not through rollbackSandbox: one frame less
    }

    /**
     * Rolls back and ends every sandbox still open above the first {@code depth}, innermost first, as
     * {@link Sandbox#close()} and {@link #endSandbox} would: for a scope that must give the allocator back as it
     * found it without holding the handles or tokens of what ran inside it ({@code ThreadLakes.with} records
     * {@link #openSandboxes()} before its work and ends what the work left open after). Their handles then close
     * quietly and refuse commit ({@link StaleHandleException}); their tokens end quietly. Does nothing when no
     * more than {@code depth} are open, or when the lake is closed or the view invalid. O(sandboxes ended) (plus
     * O(bytes) with zeroing).
     *
     * @param depth how many sandboxes to leave open: a former {@link #openSandboxes()}.
     * @throws IllegalArgumentException if {@code depth} is negative.
     * @throws IllegalStateException    if the open lake is confined to another thread (nothing changes).
     */
    public final void endSandboxes(final int depth)
    {
        if (depth < 0)
        {
            throw new IllegalArgumentException("depth must be >= 0: " + depth);
        }
        if (!alive())
        {
            return;
        }
        while (sandboxDepth > depth)
        {
            rollbackSandbox(sandboxDepth - 1);
        }
    }

    /** Pushes a sandbox with {@code id} at the position; the caller has checked that this allocator is alive. */
    private void pushSandbox(final long id)
    {
        if (sandboxDepth == sandboxIds.length)
        {
            // both copies before either store: a full heap refusing the second must not leave the stacks of different
            // lengths (the next push would then store past the shorter one, and fail so for good)
            final int length = Math.max(4, sandboxDepth * 2);
            final long[] ids = Arrays.copyOf(sandboxIds, length);
            final long[] starts = Arrays.copyOf(sandboxStarts, length);
            sandboxIds = ids;
            sandboxStarts = starts;
        }
        final int depth = sandboxDepth;
        final int at = offset;
        sandboxIds[depth] = id;
        sandboxStarts[depth] = ((long)markDepth << 32) | (at & 0xFFFF_FFFFL);
        // the floor before the depth, and with stores, not a call: a StackOverflowError at a call after the depth
        // store left a sandbox open that its caller never got (the enclosing one could then neither commit nor end)
        if (at > rewindFloor)
        {
            rewindFloor = at;
        }
        sandboxDepth = depth + 1;
    }

    private void checkTokenOpen(final int depth, final long id, final String action)
    {
        if (!sandboxActive(depth, id))
        {
            throw new StaleHandleException("cannot " + action + " sandbox token at depth " + depth + " of " + this +
                ": it already ended, or a rewind moved below its start");
        }
        checkNoInnerSandbox(depth, action);
    }

    final void checkNoInnerSandbox(final int depth, final String action)
    {
        if (sandboxDepth > depth + 1)
        {
            throw new IllegalStateException("cannot " + action + " the sandbox at depth " + depth + " of " + this +
                ": " + (sandboxDepth - depth - 1) + " sandbox(es) opened inside it are still open; end them first");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Marks, snapshots, resets
    // ------------------------------------------------------------------------------------------------------

    /**
     * Pushes the current position on the mark stack. O(1); garbage-free once the stack has grown to its
     * working depth.
     *
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final void mark()
    {
        checkAlive();
        if (markDepth == marks.length)
        {
            marks = Arrays.copyOf(marks, Math.max(8, markDepth * 2));
        }
        final int at = offset;
        marks[markDepth++] = at;
        raiseRewindFloor(at);
    }

    /**
     * Pops the top mark and rewinds to it: droplets, views and snapshots above it become invalid. O(1)
     * amortised (plus O(bytes) with zeroing).
     *
     * @throws IllegalStateException if the mark stack is empty (nothing changes), or the lake is closed
     *                               ({@link StaleHandleException} for a stale view).
     */
    public final void resetToMark()
    {
        checkAlive();
        if (markDepth == 0)
        {
            throw new IllegalStateException("resetToMark() on " + this + " with no mark: call mark() first");
        }
        // popped after the rewind (which keeps a mark at its own target): a rewind cut short (a StackOverflowError at
        // its call) left the mark popped and the position where it was, so the retry had no mark to go back to
        final int depth = markDepth - 1;
        rewindTo(marks[depth]);
        markDepth = depth;
    }

    /**
     * Moves the top mark up to the current position, keeping everything allocated since it was pushed. O(1).
     *
     * @throws IllegalStateException if the mark stack is empty, or the lake is closed
     *                               ({@link StaleHandleException} for a stale view).
     */
    public final void moveMark()
    {
        checkAlive();
        if (markDepth == 0)
        {
            throw new IllegalStateException("moveMark() on " + this + " with no mark: call mark() first");
        }
        final int at = offset;
        marks[markDepth - 1] = at;
        raiseRewindFloor(at);
    }

    /**
     * Saves the current position as a value. O(1); one small record, removed by the JIT when it does not
     * escape.
     *
     * @return the snapshot.
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final LakeSnapshot snapshot()
    {
        checkAlive();
        final int at = offset;
        final int index = register(at);
        return new LakeSnapshot(this, at, index, epochs[index << 1]);
    }

    /**
     * Restores a snapshot of this allocator exactly: everything allocated since is given back (and its
     * droplets, views and snapshots become invalid); marks above its position are discarded. A mark at its
     * position (pushed before the first allocation since) stays: a snapshot is a position, not a scope (a
     * {@link Sandbox} is the scope that also drops the marks pushed inside it). O(1) amortised (plus O(bytes)
     * with zeroing). The snapshot stays usable for further rewinds.
     *
     * @param snapshot a snapshot taken from this allocator.
     * @throws NullPointerException     if {@code snapshot} is null.
     * @throws IllegalArgumentException if it belongs to another lake or view, or was not taken by this one.
     * @throws StaleHandleException     if the position went below the snapshot since it was taken (the state
     *                                  it describes is gone; restoring it would move forward over memory
     *                                  handed out since); nothing changes.
     * @throws IllegalStateException    if the lake is closed.
     */
    public final void rewind(final LakeSnapshot snapshot)
    {
        checkAlive();
        final int at = snapshot.position();
        final int index = snapshot.epochIndex();
        // one branch on the hot path; the cold method sorts out which misuse it was
        if (snapshot.allocator() != this || at < start || at > offset || index < 0 ||
            !holds(index, snapshot.epochId(), at))
        {
            throw badSnapshot(snapshot);
        }
        rewindTo(at);
    }

    private RuntimeException badSnapshot(final LakeSnapshot snapshot)
    {
        final int at = snapshot.position();
        if (snapshot.allocator() != this)
        {
            return new IllegalArgumentException(
                "snapshot of " + snapshot.allocator() + " cannot rewind " + this + ": snapshots are per allocator");
        }
        if (at < start || at > limit || snapshot.epochIndex() < 0)
        {
            return new IllegalArgumentException("not a snapshot taken by " + this + ": " + snapshot);
        }
        if (!holds(snapshot.epochIndex(), snapshot.epochId(), at))
        {
            return new StaleHandleException("snapshot at " + at + " of " + this + " is stale: the position went " +
                "below it since it was taken (now " + offset + "), so the state it saved no longer exists");
        }
        // a genuine snapshot that still holds is never above the position: this one was made up
        return new IllegalArgumentException("snapshot at " + at + " is ahead of the position " + offset +
            " of " + this + ": rewinding never moves forward");
    }

    /**
     * Rewinds to the start: every droplet, view and snapshot above the start becomes invalid, every mark above
     * it is discarded, sandboxes opened above it become invalid. With zeroing on, the used bytes are wiped.
     * O(1) amortised (plus O(used) with zeroing).
     *
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final void reset()
    {
        checkAlive();
        rewindTo(start);
    }

    /**
     * {@link #reset()} and wipe every byte of this lake or view to zero, whatever the zeroing switch.
     * O(capacity).
     *
     * @throws IllegalStateException if the lake is closed ({@link StaleHandleException} for a stale view).
     */
    public final void clear()
    {
        checkAlive();
        // Zeroing stays as it is through the rewind (a zeroing lake's used bytes are then wiped twice; clear() is
        // O(capacity) anyway). It was switched off around the rewind, so a call cut short (a StackOverflowError at
        // rewindTo or at the floor's reset after it) left a zeroing lake with zeroing off, or with its used bytes given
        // back unwiped and a floor that let later rewinds skip the wipe.
        rewindTo(start);
        buffer.setMemory(start, limit - start, (byte)0);
        if (zeroing)
        {
            dirtyEnd = start;
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Internals shared with Droplet, Sandbox, LakeView
    // ------------------------------------------------------------------------------------------------------

    /** Depth of the epoch stack: lets tests check it stays bounded in steady state. */
    final int epochDepth()
    {
        return epochDepth;
    }

    final boolean alive()
    {
        if (this instanceof Lake)
        {
            // folds to one field load when the JIT knows the receiver is the lake itself, open and unconfined
            final Lake lake = (Lake)this;
            return lake.guard == 0 || lake.guardAllows();
        }
        final Lake lake = root;
        return (lake.guard == 0 || lake.guardAllows()) && (validStamp == lake.stamp || revalidate());
    }

    private boolean revalidate()
    {
        // a loop, not a recursion through parent.alive(): a chain of nested views may be deeper than the stack
        final long now = root.stamp;
        LakeAllocator v = this;
        while (v.parent != null && v.validStamp != now)
        {
            if (v.dead || !v.parent.holds(v.tokenIndex, v.tokenId, v.limit))
            {
                for (LakeAllocator d = this; d != v.parent; d = d.parent)
                {
                    d.dead = true;
                }
                return false;
            }
            v = v.parent;
        }
        for (LakeAllocator d = this; d != v; d = d.parent)
        {
            d.validStamp = now;
        }
        return true;
    }

    final void checkAlive()
    {
        if (!alive())
        {
            throw deadException();
        }
    }

    final IllegalStateException deadException()
    {
        if (root.closed)
        {
            return parent == null ?
                new IllegalStateException(this + " is closed") :
                new StaleHandleException(this + " is no longer valid: its lake is closed");
        }
        return new StaleHandleException(this + " is no longer valid: its parent was rewound below its end");
    }

    /** Whether a handle registered at {@code index} with {@code id} and ending at {@code end} is still alive. */
    final boolean holds(final int index, final long id, final int end)
    {
        if (index >= epochDepth)
        {
            return false;
        }
        final long[] e = epochs;
        final int at = index << 1;
        return e[at] == id && end <= (int)e[at + 1];
    }

    /**
     * Whether a handle made at generation {@code born}, registered at {@code index} and ending at {@code end} is
     * still alive. The same answer as {@link #holds} for a genuine handle, without needing the epoch's id: the
     * entry it joined got its id at or before {@code born}, and once that entry dies (renewed, dropped, pushed
     * again) its id is a later generation or DROPPED. Only for handles Lake made itself: a forged one could pass.
     */
    final boolean holdsSince(final int index, final long born, final int end)
    {
        // no depth check: an epoch above the depth was dropped (id DROPPED) and is only reused by a push, whose
        // id is a later generation; an index never pushed is never a handle's
        final long[] e = epochs;
        final int at = index << 1;
        return e[at] <= born && end <= (int)e[at + 1];
    }

    /** Registers a handle ending at {@code end} (>= offset at the time of the call); returns its epoch index. */
    final int register(final int end)
    {
        final int top = epochDepth - 1;
        if (top >= 0)
        {
            final int at = (top << 1) + 1;
            final long bounds = epochs[at];
            if (end <= (int)bounds)
            {
                if (end < (int)(bounds >>> 32))
                {
                    // below every handle of the top epoch (a snapshot at the position after a rewind to exactly
                    // here renewed the top): the epoch beneath holds it when it spans the end, so snapshot loops
                    // do not grow the stack
                    if (top > 0)
                    {
                        final long below = epochs[at - 2];
                        if (end <= (int)below && end >= (int)(below >>> 32))
                        {
                            return top - 1;
                        }
                    }
                    epochs[at] = ((long)end << 32) | (bounds & 0xFFFF_FFFFL);
                }
                return top;
            }
        }
        final int index = epochDepth;
        if (index << 1 == epochs.length)
        {
            epochs = Arrays.copyOf(epochs, Math.max(8, epochs.length * 2));
        }
        epochs[index << 1] = generation;
        epochs[(index << 1) + 1] = ((long)end << 32) | UNCAPPED;
        epochDepth = index + 1;
        rewindFloor = UNCAPPED;
        return index;
    }

    /**
     * Moves the position back to {@code to} (start <= to <= offset): the single rewind every path uses. The common
     * rewinds (a scope closing, the last droplet closing) drop at most one epoch, mark or sandbox, so each stack
     * is checked at its top without a loop; deeper pops take the out-of-line loops.
     */
    final void rewindTo(final int to)
    {
        final int from = offset;
        if (to == from)
        {
            return;
        }
        if (to >= rewindFloor)
        {
            offset = to;
            generation++;
            return;
        }
        if (zeroing)
        {
            buffer.setMemory(to, from - to, (byte)0);
        }

        final int depth = epochDepth;
        if (depth > 0)
        {
            final long[] e = epochs;
            int top = depth - 1;
            if ((int)(e[(top << 1) + 1] >>> 32) > to)
            {
                // every handle of the top epoch dies: renew the lowest dying epoch, drop the dying ones above it
                if (top > 0 && (int)(e[(top << 1) - 1] >>> 32) > to)
                {
                    top = dropEpochsAbove(e, top, to);
                    epochDepth = top + 1;
                }
                renew(e, top);
                top--;
            }
            if (top >= 0)
            {
                final int at = (top << 1) + 1;
                final long bounds = e[at];
                if ((int)bounds > to)
                {
                    e[at] = (bounds & 0xFFFF_FFFF_0000_0000L) | to;
                    if (viewTop >= top)
                    {
                        root.stamp++; // views may have died; a store, not a call that could be cut short (see renew)
                    }
                }
            }
        }

        final int marksLeft = markDepth;
        if (marksLeft > 0 && marks[marksLeft - 1] > to)
        {
            markDepth = survivingMarks(marksLeft - 1, to);
        }
        final int sandboxesLeft = sandboxDepth;
        if (sandboxesLeft > 0 && (int)sandboxStarts[sandboxesLeft - 1] > to)
        {
            sandboxDepth = survivingSandboxes(sandboxesLeft - 1, to);
        }

        offset = to;
        generation++;
        setRewindFloor();
    }

    /** Sets {@link #rewindFloor} exactly from the tops of the stacks (and the zeroing switch). */
    private void setRewindFloor()
    {
        int floor = 0;
        if (zeroing)
        {
            floor = UNCAPPED;
        }
        else
        {
            if (epochDepth > 0)
            {
                floor = (int)epochs[((epochDepth - 1) << 1) + 1];
            }
            if (markDepth > 0)
            {
                floor = Math.max(floor, marks[markDepth - 1]);
            }
            if (sandboxDepth > 0)
            {
                floor = Math.max(floor, (int)sandboxStarts[sandboxDepth - 1]);
            }
        }
        rewindFloor = floor;
    }

    private void raiseRewindFloor(final int at)
    {
        if (at > rewindFloor)
        {
            rewindFloor = at;
        }
    }

    /**
     * Renews the epoch at {@code index}, all of whose handles die in the rewind under way: a fresh id (the
     * generation the rewind is about to reach) kills them, and uncapped it takes the next handles, so a droplet
     * closed and made again pushes nothing.
     */
    private void renew(final long[] e, final int index)
    {
        final int at = index << 1;
        final long bounds = e[at + 1]; // read before the id store, so the JIT can reuse the caller's load
        if (viewTop >= index)
        {
            // Views may die here: root.stamp makes every view of this lake, at any depth, check its parent chain again
            // on next use (rewinds that kill only droplets and snapshots leave it alone, so views keep their O(1)
            // check). Bumped first, and with a store, not a call: once viewTop is lowered no later rewind bumps it
            // for these views, so a renewal stored while the bump was cut short (a StackOverflowError at the call it
            // used to be) let a view of the given-back memory pass its cached check for good, beside the lake's new
            // allocations there.
            root.stamp++;
            viewTop = index - 1;
        }
        e[at] = generation + 1;
        if ((int)bounds != UNCAPPED)
        {
            e[at + 1] = (bounds & 0xFFFF_FFFF_0000_0000L) | UNCAPPED;
        }
        rewindFloor = UNCAPPED;
    }

    /**
     * Finds the lowest epoch at or below {@code top} that dies in a rewind to {@code to} (its minEnd above
     * {@code to}; the caller knows {@code top} and the one beneath it die) and marks every dying epoch above it
     * dropped: an id no generation reaches, so that {@link #holdsSince} needs no depth check.
     *
     * @return the lowest dying epoch's index, which the caller renews.
     */
    private static int dropEpochsAbove(final long[] e, final int top, final int to)
    {
        int lowest = top;
        while (lowest > 0 && (int)(e[(lowest << 1) - 1] >>> 32) > to)
        {
            lowest--;
        }
        for (int i = lowest + 1; i <= top; i++)
        {
            e[i << 1] = DROPPED;
        }
        return lowest;
    }

    /** @return how many of the marks below {@code depth} survive a rewind to {@code to}. */
    private int survivingMarks(final int depth, final int to)
    {
        int d = depth;
        while (d > 0 && marks[d - 1] > to)
        {
            d--;
        }
        return d;
    }

    /** @return how many of the sandboxes below {@code depth} survive a rewind to {@code to}. */
    private int survivingSandboxes(final int depth, final int to)
    {
        int d = depth;
        while (d > 0 && (int)sandboxStarts[d - 1] > to)
        {
            d--;
        }
        return d;
    }

    /**
     * Auto-rewind for a droplet or view ending at {@code end} that was allocated at {@code from}: gives its
     * bytes (and the padding before them) back if it is the last allocation and no mark or sandbox was opened
     * after it began, so closing never crosses a scope boundary.
     *
     * <p>{@code index} is the handle's epoch. When it is the top epoch and every handle in it ends above
     * {@code from}, the rewind is that epoch's renewal and nothing else: the epoch beneath is capped at or below
     * the last rewind target, which is at or below {@code from}, so it neither dies nor needs capping. That is
     * the droplet close-and-make-again loop, kept to a few stores; anything else takes {@link #rewindTo}.
     */
    final void releaseIfLast(final int from, final int end, final int index)
    {
        if (end != offset ||
            markDepth > 0 && marks[markDepth - 1] > from ||
            sandboxDepth > 0 && (int)sandboxStarts[sandboxDepth - 1] > from)
        {
            return;
        }
        // fastLimit >= 0: an open, unconfined, non-zeroing lake (the allocation fast path already loaded it)
        if (index == epochDepth - 1 && fastLimit >= 0 && (int)(epochs[(index << 1) + 1] >>> 32) > from)
        {
            renew(epochs, index);
            offset = from;
            generation++;
            return;
        }
        rewindTo(from);
    }

    final boolean sandboxActive(final int depth, final long id)
    {
        return alive() && depth < sandboxDepth && sandboxIds[depth] == id;
    }

    /**
     * Rolls the sandbox at {@code depth} back and ends it (callers check it is open and innermost): rewinds to its
     * start and cuts the mark stack back to its depth at the opening, dropping the marks pushed inside it, which the
     * rewind alone keeps when they lie at the start (pushed before its first allocation). A cut, not a restore: marks
     * popped inside it stay popped, and marks pushed in their place at no greater depth stay (the enclosing scope's
     * marks were misused; tracking their replacement would cost every resetToMark). Rewinding to the start leaves the
     * {@link #rewindFloor} high, which only sends the next rewind below it the exact way.
     */
    final void rollbackSandbox(final int depth)
    {
        final long opened = sandboxStarts[depth];
        endThenRewind(depth, (int)(opened >>> 32), (int)opened);
    }

    /**
     * Ends the sandbox at {@code depth} and rewinds to its {@code start}: drops the marks pushed inside it (there were
     * {@code marksAtOpen} when it opened). A {@link Sandbox} passes what it holds, so its rollback reads no stack.
     * Ended first, with stores and no call before them, then rewound: a rewind cut short (a
     * {@link StackOverflowError} in its exact path or, zeroing, in its wipe) leaves the sandbox ended with its bytes
     * kept until an enclosing rewind, never open with nobody to end it (try-with-resources has dropped its handle, a
     * {@code finally} its token: the enclosing sandbox could then neither commit nor close). The rewind does not need
     * the sandbox: it only cuts below the target, and the sandbox starts there. The common rollback, to at or above
     * the {@link #rewindFloor} (nothing registered inside: no droplet, view or snapshot, no zeroing), is
     * {@link #rewindTo}'s short path written out here, so it too is stores only and the sandbox's bytes come back
     * even then.
     */
    final void endThenRewind(final int depth, final int marksAtOpen, final int start)
    {
        if (markDepth > marksAtOpen)
        {
            markDepth = marksAtOpen;
        }
        sandboxDepth = depth;
        if (start >= rewindFloor && start != offset)
        {
            offset = start;
            generation++;
            return;
        }
        rewindTo(start);
    }

    /** Closes the sandbox at {@code depth} (and nothing above it: callers check there is nothing). */
    final void popSandbox(final int depth)
    {
        sandboxDepth = depth;
    }

    /**
     * Undoes a placement whose wrapper threw: an exact rewind to where the placement began, which invalidates every
     * handle the wrapper made above that point (droplets, views, snapshots) and drops its marks and sandboxes, and
     * counts as a rewind in the generation. Always the full rewind, never a plain offset store: a wrapper can take
     * a snapshot at the placement's end without changing anything a cheaper check could compare, and that snapshot
     * must not survive the position going below it. A wrapper that rewound below {@code before}, or closed the
     * lake, is left as it left things (a rewind never moves forward).
     */
    private void undoPlace(final int before)
    {
        if (alive() && offset >= before)
        {
            rewindTo(before);
        }
    }

    /**
     * Bump by {@code size} at {@link #DEFAULT_ALIGNMENT}: the fast path reads the offset and {@link #fastLimit}
     * and nothing else (the region's base is 8-aligned, so aligning the offset aligns the address); anything
     * unusual (closed, confined, zeroing, a view, a bad size, no room) goes to {@link #bump}, which decides.
     */
    private int bump8(final int size, final boolean orThrow)
    {
        // int arithmetic, which saves the sign extensions of a long compare (about 10% of a sandbox of 8 x 64 B):
        // it cannot overflow because every offset is at most Lake.MAX_CAPACITY, 7 below Integer.MAX_VALUE, so the
        // aligned start fits, and fastLimit - at lies between -MAX_CAPACITY - 1 and MAX_CAPACITY
        final int at = (offset + (DEFAULT_ALIGNMENT - 1)) & -DEFAULT_ALIGNMENT;
        if (size <= fastLimit - at && size > 0)
        {
            // the new offset in the form callers compute an allocation's end (int at + size), so that the JIT
            // sees one value: a droplet's bounds and its "am I the last allocation" check then fold away
            offset = at + size;
            return at;
        }
        return bump(size, DEFAULT_ALIGNMENT, orThrow);
    }

    /** Recomputes {@link #fastLimit} after the lake opened, closed, (un)confined, or zeroing changed. */
    final void refreshFastLimit()
    {
        fastLimit = this == root && root.guard == 0 && !zeroing ? limit : -1;
        rewindFloor = UNCAPPED;
    }

    private int bump(final int size, final int alignment, final boolean orThrow)
    {
        checkAlive();
        if (size <= 0)
        {
            Region.checkSize(size, Integer.MAX_VALUE, "allocation size");
        }
        final long at = alignUp(offset, alignment);
        final long end = at + size;
        if (end > limit)
        {
            if (orThrow)
            {
                throw new LakeOverflowException(size, alignment, limit - offset, limit - start);
            }
            return NO_SPACE;
        }
        if (at < dirtyEnd) // only ever true with zeroing on
        {
            buffer.setMemory((int)at, (int)(Math.min(end, dirtyEnd) - at), (byte)0);
        }
        offset = (int)end;
        return (int)at;
    }

    /** Aligns an offset so that the absolute address is a multiple of {@code alignment} (<= page size). */
    final long alignUp(final int from, final int alignment)
    {
        final long m = misalignment;
        return ((from + m + alignment - 1) & -(long)alignment) - m;
    }

    private int arrayBytes(final int count, final int elementSize)
    {
        if (count <= 0)
        {
            throw new IllegalArgumentException("element count must be at least 1: " + count);
        }
        final long bytes = (long)count * elementSize;
        if (bytes > Integer.MAX_VALUE)
        {
            checkAlive();
            throw new LakeOverflowException(bytes, elementSize, limit - offset, limit - start);
        }
        return (int)bytes;
    }

    static int checkAlignment(final int alignment)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > Memory.pageSize())
        {
            Region.checkAlignment(alignment, Memory.pageSize());
        }
        return alignment;
    }
}
