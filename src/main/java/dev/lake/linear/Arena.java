package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.Objects;

/**
 * A growable, single-owner bump allocator over a chain of off-heap blocks, with checkpoints, nested
 * transactions, byte budgets, opt-in cleanup actions and {@link ArenaVec}s (the Java home of the fastarena
 * crate).
 *
 * <h2>Blocks and growth</h2>
 * The arena starts with one block ({@value #DEFAULT_BLOCK_SIZE} bytes unless told otherwise). When a request
 * does not fit the current block the arena moves to the next block: first a block it already holds (blocks
 * are kept warm after {@link #rewind(Checkpoint)} and {@link #reset()}) that is big enough, else a new one.
 * New blocks double in size, from the first block's size up to {@link Builder#maxBlockSize(int)}
 * ({@value #DEFAULT_MAX_BLOCK_SIZE} bytes by default), and stay at that cap afterwards. A request larger than
 * the next block size gets a block of its own, of exactly its size, which does not advance the doubling;
 * a second such request in a row (up to the cap) instead moves the doubling up to it, so that a first block
 * smaller than the usual request costs a few native blocks, not one per allocation.
 * The unused tail of a block the arena moved away from is idle, not allocated: it is used again after a
 * rewind into that block. Blocks go back to the operating system only at {@link #close()}.
 *
 * <h2>Two tiers</h2>
 * The primitive tier allocates no Java object: {@link #allocate(int, int)} returns a {@code long} reference
 * packing the block index (high 32 bits) and the offset in that block (low 32 bits). The block's shared
 * Agrona buffer is {@link #buffer(long)} and the offset is {@link #offset(long)}, so an SBE encoder is placed
 * with {@code encoder.wrap(arena.buffer(ref), Arena.offset(ref))}, or in one call with
 * {@link #place(Object, int, int, FlyweightWrapper)}. A reference is not checked for staleness beyond its
 * block index: after a rewind below it, writing through it overwrites whatever was allocated since. The
 * handle tier ({@link ArenaVec}, {@link ArenaView}, {@link Transaction}, {@link Checkpoint}) checks on every
 * use that its memory is still its own and throws {@link StaleHandleException} otherwise.
 *
 * <h2>Costs</h2>
 * Allocation is O(1): a few arithmetic operations and one compare against a precomputed limit that folds in
 * the block end and the innermost transaction's budget, so budgets cost nothing on the fast path. Moving to
 * another block is O(retained blocks) in the worst case (a scan of the blocks kept after a rewind) and a
 * native allocation when a new block is needed. {@link #checkpoint()} is O(1) (one small object that escape
 * analysis usually removes); {@link #rewind(Checkpoint)} and {@link #reset()} are O(1) plus the cleanup
 * actions they run; checking a checkpoint or handle for staleness is O(1) in the common case (see
 * {@link Checkpoint}). {@link #stats()} is O(1).
 *
 * <h2>Staleness, exactly</h2>
 * Positions in the arena are ordered (block index, then offset). Every rewind that discards bytes pushes a
 * "cut" (position, clock tick) on a small stack that keeps only cuts below the current position, so it stays
 * as deep as the nesting of rewinds in use. A checkpoint or handle remembers the clock when it was taken; it
 * is stale exactly when a later cut lies strictly below its end, which is one scan from the top of that
 * stack. Rewinding to the same position twice, or to an older checkpoint at the same position, is fine.
 *
 * <h2>Thread safety</h2>
 * None, by design: an arena has one owner thread at a time (hand it over with a happens-before edge).
 */
public final class Arena implements AutoCloseable
{
    /** Default size of the first block: 64 KiB. */
    public static final int DEFAULT_BLOCK_SIZE = 64 * 1024;

    /** Default cap on the doubling of block sizes: 16 MiB. */
    public static final int DEFAULT_MAX_BLOCK_SIZE = 16 * 1024 * 1024;

    /** Largest single allocation: the largest block, 2 GiB - 1 byte. */
    public static final int MAX_ALLOCATION = (int)Region.MAX_SIZE;

    /** Largest alignment: the operating system page size. */
    public static final int MAX_ALIGNMENT = Memory.pageSize();

    /** Cache line size used by {@link #allocateCacheAligned(int)}: 64 bytes. */
    public static final int CACHE_LINE_SIZE = Memory.CACHE_LINE;

    /** Alignment of {@link #allocate(int)} and of the primitive arrays: 8 bytes. */
    public static final int DEFAULT_ALIGNMENT = 8;

    /** The reference the {@code try} forms return when the memory is not there: never a valid reference. */
    public static final long NULL = -1L;

    /** Deepest nesting the primitive transaction tier ({@link #beginTransaction()}) can name. */
    public static final int MAX_TOKEN_DEPTH = 0xFFFF;
    private static final int TOKEN_DEPTH_BITS = 16;

    /** What {@link Transaction#budgetRemaining()} returns when no budget applies. */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private static final int STRING_HEADER = 4;
    private static final int TX_STRIDE = 8; // 6 fields, rounded to a power of two so that indexing is a shift
    private static final int SERIAL = 0;
    private static final int START_POSITION = 1;
    private static final int START_CLOCK = 2;
    private static final int START_ALLOCATIONS = 3;
    private static final int OWN_LIMIT = 4;
    private static final int BUDGET_END = 5;
    private static final int BLOCK_ALIGNMENT = Memory.CACHE_LINE;
    private static final long BLOCK_MASK = 0xFFFF_FFFF_0000_0000L;
    /** {@link #copyIn}'s source that means "zero the bytes". */
    private static final Object ZEROES = new Object();
    private static final long LONGS_BASE = UnsafeApi.arrayBaseOffset(long[].class);
    private static final long INTS_BASE = UnsafeApi.arrayBaseOffset(int[].class);
    private static final long DOUBLES_BASE = UnsafeApi.arrayBaseOffset(double[].class);
    // What pos holds once closed: its offset half is negative, so buffer(ref) lets no reference through its fast
    // path, and it is below every handle's end (every staleness check says stale).
    private static final long CLOSED_POSITION = -1L;
    // What limitPos and fastLimitPos hold once closed: every allocation's end is above it (slow path,
    // which throws), and its high half matches no reference's (buffer(ref) falls to the checked path).
    private static final long CLOSED = Long.MIN_VALUE;
    // What fastLimitPos holds while a transaction is open: every allocation's end is above it, so arena-level
    // allocations take allocateSlow, which counts them for TxnDiff.
    private static final long COUNTING = Long.MIN_VALUE;
    // The serial of the arena's own slot (depth 0) and txSerial outside transactions: no transaction has it and
    // no token carries it (a token's serial is its upper 48 bits, never negative), so the innermost check is one
    // compare that even a zeroed token fails.
    private static final long NO_SERIAL = -1L;

    private final int maxBlockSize;
    private final long maxReserved;
    private final boolean preTouch;

    // The chain: blocks[0..current] are in use in order; blocks[current + 1..blockCount) are kept for reuse.
    private Region[] blocks = new Region[8];
    private UnsafeBuffer[] buffers = new UnsafeBuffer[8];
    private long[] usedBefore = new long[8];
    private int blockCount;
    private long reserved;
    private int nextBlockSize;
    // Whether the last new block was a request's own block (see allocateSlow).
    private boolean lastBlockOwn;

    // The current block, copied out of the chain so the fast path reads fields only: its index, its buffer
    // and address (its index shifted into a reference's high half is pos's high half).
    int current;
    private UnsafeBuffer currentBuffer;
    private long base;
    private int capacity;
    // The bump position: (current << 32 | offset in the current block), which is also the reference the next
    // allocation at that offset returns, so the fast path neither reads the block index nor packs a
    // reference, and buffer(ref) checks a reference against it. CLOSED_POSITION once closed.
    private long pos;
    // Where the current block's room ends for this arena's use: its capacity, or less where the innermost
    // transaction's budget ends first; -1 once closed. limitPos is the same as a position (current << 32 |
    // limit), what the fast paths compare an allocation's end against.
    private int limit;
    private long limitPos;
    // What the arena-level allocate compares against: limitPos outside transactions, COUNTING inside one
    // (nothing fits under it), so that allocations made through the arena inside a
    // transaction take allocateSlow, which counts them for TxnDiff. Outside transactions nothing needs
    // counting, so the arena's fast path does not count.
    private long fastLimitPos;
    private long usedBeforeCurrent;
    // Allocations made while a transaction is open (only differences between two readings mean anything).
    private long allocations;

    // Staleness: a clock that ticks on every discarding rewind and cleanup registration, and the cut stack.
    long clock;
    private long[] cutPosition = new long[8];
    private long[] cutClock = new long[8];
    private int cuts;
    // A cut at position 0 (a reset, or a rewind to the very start) lies below every other and empties the stack,
    // so it is kept here rather than pushed: the clock tick of the latest one (0: none). A reset then touches
    // no array.
    private long startCutClock;
    // At or above every valid checkpoint's position: where the newest checkpoint was taken, lowered to the target
    // of every discarding rewind since (cut), as a checkpoint above that target is stale and one at or below it may
    // not be. A give-back of a finished vector's unused tail (shrinkLast) stops there, so no valid checkpoint in the
    // tail goes stale; when no checkpoint lies there the give-back is at most smaller than it could be, never wrong.
    // (A reset in the first block, restart(), leaves it above the position, to stay small enough to inline: then only
    // checkpoints at 0 are valid. The position may grow back over it, so whatever reads it must first drop it while it
    // still lies above the position: forgetStaleCheckpoint() before a vector's storage is allocated.)
    private long lastCheckpoint = -1;

    // Cleanup actions, oldest first, each with the clock tick of its registration.
    private Object[] cleanupActions;
    private long[] cleanupClock;
    private int cleanups;
    private boolean runningCleanups;
    // GUARD_CLOSED | GUARD_CLEANING: closed and runningCleanups in one field, so that the paths that must refuse
    // both (rewind, reset, transactions) test one byte.
    private byte guard;
    private static final byte GUARD_CLOSED = 1;
    private static final byte GUARD_CLEANING = 2;

    // Transactions by depth (index 0 is the arena itself, never a transaction).
    int txDepth;
    // Serial of the innermost open transaction (NO_SERIAL when none): serials are never reused, so one compare
    // tells a transaction it is the innermost.
    long txSerial = NO_SERIAL;
    /** The last transaction serial handed out ({@link TokenIds#next}). */
    private long txSerialCounter = TokenIds.NONE;
    // One stride of longs per depth, so opening a transaction touches one array.
    private long[] tx = new long[TX_STRIDE * 8];
    private long budgetEnd = Long.MAX_VALUE;
    // Depths 1..budgetDepth have their OWN_LIMIT and BUDGET_END slots written (by setLimit, since they opened);
    // deeper open transactions have no limit of their own and inherit budgetDepth's end. So opening a
    // transaction writes no budget slot, and committing one without a budget reads none.
    private int budgetDepth;

    private boolean closed;

    /**
     * An arena with the default first block of {@value #DEFAULT_BLOCK_SIZE} bytes.
     *
     * @throws IllegalStateException if the JVM lacks {@link Memory#REQUIRED_FLAG}.
     * @throws OutOfMemoryError      if the operating system refuses the first block.
     */
    public Arena()
    {
        this(builder());
    }

    private Arena(final Builder builder)
    {
        this.maxBlockSize = Math.max(builder.maxBlockSize, builder.initialBlockSize);
        this.maxReserved = builder.maxReservedBytes;
        this.preTouch = builder.preTouch;
        if (builder.initialBlockSize > maxReserved)
        {
            throw new IllegalArgumentException("initial block size " + builder.initialBlockSize +
                " is above the reserve limit " + maxReserved);
        }
        final Region first = newRegion(builder.initialBlockSize, BLOCK_ALIGNMENT);
        blocks[0] = first;
        buffers[0] = first.buffer();
        blockCount = 1;
        reserved = first.size();
        nextBlockSize = (int)Math.min(maxBlockSize, 2L * builder.initialBlockSize);
        tx[at(0, SERIAL)] = NO_SERIAL;
        tx[at(0, BUDGET_END)] = Long.MAX_VALUE;
        tx[at(0, OWN_LIMIT)] = Long.MAX_VALUE;
        enterBlock(0, 0);
    }

    /**
     * An arena whose first block holds {@code bytes} bytes (the seed's {@code with_capacity}).
     *
     * @param bytes size of the first block, 1 to {@link #MAX_ALLOCATION}.
     * @return the new arena.
     * @throws IllegalArgumentException naming the value if it is out of range.
     */
    public static Arena withCapacity(final int bytes)
    {
        return builder().initialBlockSize(bytes).build();
    }

    /**
     * @return a builder with the defaults: first block {@value #DEFAULT_BLOCK_SIZE} bytes, doubling up to
     * {@value #DEFAULT_MAX_BLOCK_SIZE} bytes, no reserve limit, no pre-touch.
     */
    public static Builder builder()
    {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------------------
    // References
    // ------------------------------------------------------------------------------------------------------

    /**
     * The offset of a reference in its block's buffer. Pure arithmetic, O(1), no check.
     *
     * @param ref a reference returned by an allocation.
     * @return the offset in {@link #buffer(long)}.
     */
    public static int offset(final long ref)
    {
        return (int)ref;
    }

    /**
     * The block index of a reference. Pure arithmetic, O(1), no check.
     *
     * @param ref a reference returned by an allocation.
     * @return the index of its block in the chain.
     */
    public static int block(final long ref)
    {
        return (int)(ref >>> 32);
    }

    /**
     * The shared Agrona buffer of the block a reference lies in; read and write it at {@link #offset(long)}.
     * O(1), allocates nothing. Checks only that the reference starts in the part of its block in use: a
     * reference to memory rewound past and handed out again below that point is not detected (the primitive
     * tier's contract; the checked tiers detect it). After a {@link #reset()} a block index may hold a smaller
     * block than the one a reference from before it was cut from: its start is checked, the rest of its old
     * allocation is not, so only Agrona's bounds check stands between a write through it and the end of the block.
     *
     * @param ref a reference returned by an allocation of this arena.
     * @return the block's buffer (index 0 is the block's first byte).
     * @throws StaleHandleException if the reference is {@link #NULL}, lies in a block rewound past or past the
     *                              part of its block in use (also after a reset put a smaller block at its
     *                              index), or the arena is closed.
     */
    public UnsafeBuffer buffer(final long ref)
    {
        // The common case, a reference into the current block at or below the bump position, in two tests: the
        // reference's offset half is a valid offset (below 2^31), and the bump position is at most 2^31 - 1
        // above it. While the arena is open the position's own offset is below 2^31, so the two together hold
        // exactly when the reference is in the current block at or below the position (any other block differs
        // by a multiple of 2^32, which no offset difference below 2^31 can make up). Right after an allocation
        // the position is the reference plus the (constant) size, so the JIT folds the second test away and
        // the check is one test of a register; no field needs to stay in a register for it. Once closed the
        // position is CLOSED_POSITION, whose offset half is negative, so nothing passes.
        if ((int)ref >= 0 && (pos - ref) >>> 31 == 0)
        {
            return currentBuffer;
        }
        return olderBuffer(ref);
    }

    /**
     * @return the buffer of the block allocations currently land in.
     * @throws IllegalStateException if the arena is closed.
     */
    public UnsafeBuffer currentBuffer()
    {
        checkOpen();
        return buffers[current];
    }

    // ------------------------------------------------------------------------------------------------------
    // Allocation: primitive tier
    // ------------------------------------------------------------------------------------------------------

    /**
     * Allocates {@code size} uninitialised bytes aligned to {@code alignment}. O(1) on the fast path, no Java
     * object. Inside a transaction the bytes belong to the innermost transaction and count against its
     * budget, alignment padding included.
     *
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}, of the absolute address.
     * @return a reference: read and write through {@link #buffer(long)} at {@link #offset(long)}.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if a new block is needed and the reserve limit or the OS refuses it.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long allocate(final int size, final int alignment)
    {
        return bump(size, alignment, fastLimitPos, false, true);
    }

    /**
     * The fast path of {@link Transaction#allocate(int, int)}: {@link #allocate(int, int)} that also counts the
     * allocation for {@link TxnDiff}, against the real limit. The caller checked that its transaction is the
     * innermost open one, so a transaction is open and the counting is needed.
     */
    long allocateCounted(final int size, final int alignment, final boolean orThrow)
    {
        return bump(size, alignment, limitPos, true, orThrow);
    }

    /**
     * The one fast path of every allocation: validate, align, compare the end against {@code bumpLimit} (the
     * arena's {@code fastLimitPos} or the real {@code limitPos}), move the bump, count the allocation for
     * {@link TxnDiff} when {@code count} is set (a constant at every call site, so the test folds away). Anything that does not fit
     * goes out of line to {@link #allocateSlow(int, int, boolean)}, which counts for itself.
     */
    private long bump(final int size, final int alignment, final long bumpLimit, final boolean count,
        final boolean orThrow)
    {
        if (size <= 0 || alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > MAX_ALIGNMENT)
        {
            throw invalidRequest(size, alignment);
        }
        // Positions are (block << 32 | offset) and the offset is below 2^31, so aligning the position aligns
        // the offset without touching the block half; every block starts on a cache line, so up to 64
        // aligning the offset aligns the address. An end that carries into the block half is above the limit.
        final long p = pos;
        final long start = alignment <= BLOCK_ALIGNMENT ?
            (p + alignment - 1) & -alignment :
            (p & BLOCK_MASK) | (((base + (int)p + alignment - 1) & -alignment) - base);
        final long end = start + size;
        if (end > bumpLimit)
        {
            return allocateSlow(size, alignment, orThrow);
        }
        pos = end;
        if (count)
        {
            allocations++;
        }
        return start;
    }

    /**
     * Allocates {@code size} uninitialised bytes aligned to {@value #DEFAULT_ALIGNMENT}.
     *
     * @param size bytes, 1 to {@link #MAX_ALLOCATION}.
     * @return a reference.
     * @throws IllegalArgumentException naming the value for a bad size.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException    if the arena is closed.
     * @see #allocate(int, int)
     */
    public long allocate(final int size)
    {
        return allocate(size, DEFAULT_ALIGNMENT);
    }

    /**
     * Like {@link #allocate(int, int)} but returns {@link #NULL} instead of throwing when the budget, the
     * reserve limit or the operating system refuses; nothing is allocated then. Bad arguments still throw.
     *
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @return a reference, or {@link #NULL}.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long tryAllocate(final int size, final int alignment)
    {
        return bump(size, alignment, fastLimitPos, false, false);
    }

    /**
     * Allocates {@code size} bytes that read 0. O(1) plus the fill.
     *
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @return a reference.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long allocateZeroed(final int size, final int alignment)
    {
        return copyIn(ZEROES, 0, size, alignment, true);
    }

    /**
     * Like {@link #allocateZeroed(int, int)} but returns {@link #NULL} when the memory is not there.
     *
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @return a reference, or {@link #NULL}.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long tryAllocateZeroed(final int size, final int alignment)
    {
        return copyIn(ZEROES, 0, size, alignment, false);
    }

    /**
     * Allocates {@code size} uninitialised bytes starting on a 64-byte cache line, so that two such
     * allocations never share a line (no false sharing when handed to different threads; SIMD-friendly).
     *
     * @param size bytes, 1 to {@link #MAX_ALLOCATION}.
     * @return a reference.
     * @throws IllegalArgumentException naming the value for a bad size.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long allocateCacheAligned(final int size)
    {
        return allocate(size, CACHE_LINE_SIZE);
    }

    /**
     * Allocates an uninitialised array of {@code count} elements of {@code elementSize} bytes, aligned to the
     * element size (for example {@code allocateArray(n, Long.BYTES)} for {@code n} longs).
     *
     * @param count       elements, at least 1.
     * @param elementSize bytes per element: a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @return a reference to element 0; element {@code i} is at {@code offset(ref) + i * elementSize}.
     * @throws IllegalArgumentException naming the value for a bad count or element size, or if the array
     *                                  would exceed {@link #MAX_ALLOCATION} bytes.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException    if the arena is closed.
     */
    public long allocateArray(final int count, final int elementSize)
    {
        Region.checkAlignment(elementSize, MAX_ALIGNMENT);
        return allocate(arrayBytes(count, elementSize), elementSize);
    }

    /**
     * Places a flyweight (an SBE or Aeron codec) on {@code size} fresh uninitialised bytes: allocates them and
     * calls {@code wrapper.wrap(flyweight, buffer, offset)}. With a method reference such as
     * {@code MyEncoder::wrap} nothing is allocated on the heap. Zero the bytes first with
     * {@link #allocateZeroed(int, int)} and wrap yourself when the codec leaves gaps unwritten. If the wrapper
     * throws, the placement is undone (the arena rewinds to where it was, as a checkpoint rewind) and the
     * exception propagates. A wrapper that returns after closing the arena, or after a rewind, reset or rollback
     * that gave back the placed memory (even if it allocated past it again), is refused with an
     * {@link IllegalStateException}: the flyweight would point at freed memory or at memory handed out again.
     * Scratch work above the placement (a checkpoint taken and rewound to inside the wrapper) is allowed.
     *
     * @param flyweight the flyweight to point at the memory.
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @param wrapper   how to wrap the flyweight.
     * @param <F>       the flyweight type.
     * @return {@code flyweight}, now over the new memory.
     * @throws NullPointerException     if {@code flyweight} or {@code wrapper} is null (nothing allocated).
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed a transaction budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException    if the arena is closed, or the wrapper closed it or gave the placed memory
     *                                  back (rewind, reset, rollback) while it ran.
     */
    public <F> F place(final F flyweight, final int size, final int alignment, final FlyweightWrapper<F> wrapper)
    {
        Objects.requireNonNull(flyweight, "flyweight");
        Objects.requireNonNull(wrapper, "wrapper");
        final long before = pos;
        final long clockBefore = clock;
        final long ref = allocate(size, alignment);
        wrapPlaced(flyweight, ref, size, wrapper, before, clockBefore);
        return flyweight;
    }

    /**
     * Like {@link #place(Object, int, int, FlyweightWrapper)} but returns {@code null} when the memory is not
     * there (budget, reserve limit, OS); nothing is allocated then.
     *
     * @param flyweight the flyweight to point at the memory.
     * @param size      bytes, 1 to {@link #MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link #MAX_ALIGNMENT}.
     * @param wrapper   how to wrap the flyweight.
     * @param <F>       the flyweight type.
     * @return {@code flyweight}, or {@code null}.
     * @throws NullPointerException     if {@code flyweight} or {@code wrapper} is null.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws IllegalStateException    if the arena is closed, or the wrapper closed it or gave the placed memory
     *                                  back while it ran (as {@link #place(Object, int, int, FlyweightWrapper)}).
     */
    public <F> F tryPlace(final F flyweight, final int size, final int alignment, final FlyweightWrapper<F> wrapper)
    {
        Objects.requireNonNull(flyweight, "flyweight");
        Objects.requireNonNull(wrapper, "wrapper");
        final long before = pos;
        final long clockBefore = clock;
        final long ref = tryAllocate(size, alignment);
        if (ref == NULL)
        {
            return null;
        }
        wrapPlaced(flyweight, ref, size, wrapper, before, clockBefore);
        return flyweight;
    }

    /**
     * Wraps a placed flyweight; if the wrapper throws, the placement is undone: the arena rewinds to where it
     * was before it (running the cleanups the wrapper registered, making its checkpoints stale). A wrapper
     * that changed the arena's structure (opened or ended a transaction, rewound below the placement, closed
     * the arena) is left as it left things.
     */
    private <F> void wrapPlaced(final F flyweight, final long ref, final int size, final FlyweightWrapper<F> wrapper,
        final long before, final long clockBefore)
    {
        final int depth = txDepth;
        final long serial = txSerial;
        try
        {
            wrapper.wrap(flyweight, buffers[current], (int)ref);
        }
        catch (final Throwable ex)
        {
            undoAfter(ex, before, clockBefore, depth, serial);
            throw ex;
        }
        // the clock ticks on every discarding rewind (and cleanup registration), so a wrapper that left the arena
        // alone costs one compare here
        if (clock != clockBefore || closed)
        {
            checkPlacementKept(ref + size, clockBefore);
        }
    }

    /**
     * After a wrapper that returned normally but ticked the clock or closed the arena: refuses to hand back a
     * flyweight over memory the placement no longer owns (freed with the arena's blocks, or given back by a rewind,
     * reset or rollback and handed out again). Staleness is exact ({@link #isStale}), so scratch work above the
     * placement (a checkpoint taken and rewound to inside the wrapper, a cleanup registered) keeps it.
     */
    private void checkPlacementKept(final long end, final long clockBefore)
    {
        if (closed)
        {
            throw new IllegalStateException("the wrapper closed " + this + " while place() ran: the placed memory is " +
                "freed");
        }
        if (isStale(end, clockBefore))
        {
            throw new IllegalStateException("the wrapper rewound, reset or rolled back " + this + " below the placed " +
                "memory while place() ran: the placement is gone and the memory may be handed out again");
        }
    }

    /**
     * Takes back what was allocated since {@code (before, clockBefore)} after {@code ex} cut an operation short
     * (a placement's wrapper, a copy whose source changed under it), unless user code run by that operation
     * changed the arena's structure (opened or ended a transaction, rewound below {@code before}, closed the
     * arena): that is left as it was left. Not "the position is still at or above before": a reset followed by
     * new allocations may have swapped kept blocks into other places, so positions from before and after it
     * compare blocks of different sizes; {@link #isStale} knows every cut.
     */
    private void undoAfter(final Throwable ex, final long before, final long clockBefore, final int depth,
        final long serial)
    {
        if (!closed && txDepth == depth && txSerial == serial && !isStale(before, clockBefore))
        {
            if (runningCleanups)
            {
                // inside a cleanup action: only the move back. No action is newer than the call (a pass refuses
                // registrations), and a nested pass would clear the enclosing pass's guard when it ends. The
                // enclosing pass cuts at or below here afterwards. Skipped before, the failed call kept its bytes,
                // charged to the budget of the depth being rolled back (NineteenthReviewArenaTest).
                moveBack(before);
                return;
            }
            final Throwable failure = rewindTo(before, clockBefore);
            if (failure != null)
            {
                suppress(ex, failure);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Allocation: copies
    // ------------------------------------------------------------------------------------------------------

    /**
     * Copies a byte array into the arena (byte aligned). An empty array gives an empty reference at the
     * current position and allocates nothing.
     *
     * @param src the bytes.
     * @return a reference to the copy, {@code src.length} bytes long.
     * @throws BudgetExceededException if the request would exceed a transaction budget.
     * @throws OutOfMemoryError        if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException   if the arena is closed.
     */
    public long copyOf(final byte[] src)
    {
        return copyOf(src, 0, src.length);
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code from} into the arena (byte aligned).
     *
     * @param src    the bytes.
     * @param from   first byte to copy.
     * @param length bytes to copy; 0 gives an empty reference and allocates nothing.
     * @return a reference to the copy.
     * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing allocated).
     * @throws BudgetExceededException   if the request would exceed a transaction budget.
     * @throws OutOfMemoryError          if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException     if the arena is closed.
     */
    public long copyOf(final byte[] src, final int from, final int length)
    {
        return copyBytes(src, from, length, true);
    }

    /**
     * Like {@link #copyOf(byte[], int, int)} but returns {@link #NULL} when the memory is not there.
     *
     * @param src    the bytes.
     * @param from   first byte to copy.
     * @param length bytes to copy.
     * @return a reference to the copy, or {@link #NULL}.
     * @throws IndexOutOfBoundsException if the range is outside {@code src}.
     * @throws IllegalStateException     if the arena is closed.
     */
    public long tryCopyOf(final byte[] src, final int from, final int length)
    {
        return copyBytes(src, from, length, false);
    }

    /**
     * Copies {@code length} bytes of an Agrona buffer (a received message, another arena's memory) into the
     * arena (byte aligned).
     *
     * @param src    the source buffer.
     * @param index  first byte to copy.
     * @param length bytes to copy; 0 gives an empty reference and allocates nothing.
     * @return a reference to the copy.
     * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing allocated).
     * @throws BudgetExceededException   if the request would exceed a transaction budget.
     * @throws OutOfMemoryError          if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException     if the arena is closed.
     */
    public long copyOf(final DirectBuffer src, final int index, final int length)
    {
        return copyDirect(src, index, length, true);
    }

    /**
     * Like {@link #copyOf(DirectBuffer, int, int)} but returns {@link #NULL} when the memory is not there.
     *
     * @param src    the source buffer.
     * @param index  first byte to copy.
     * @param length bytes to copy.
     * @return a reference to the copy, or {@link #NULL}.
     * @throws IndexOutOfBoundsException if the range is outside {@code src}.
     * @throws IllegalStateException     if the arena is closed.
     */
    public long tryCopyOf(final DirectBuffer src, final int index, final int length)
    {
        return copyDirect(src, index, length, false);
    }

    /**
     * Copies longs into the arena, 8-byte aligned, in native byte order (what {@code buffer.getLong(i)} reads).
     *
     * @param src the values; an empty array gives an empty reference and allocates nothing.
     * @return a reference to element 0.
     * @throws BudgetExceededException if the request would exceed a transaction budget.
     * @throws OutOfMemoryError        if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException   if the arena is closed.
     */
    public long copyOf(final long[] src)
    {
        final int n = src.length;
        if (n == 0)
        {
            return emptyReference();
        }
        return copyIn(src, LONGS_BASE, arrayBytes(n, Long.BYTES), Long.BYTES, true); // one bulk copy
    }

    /**
     * Copies ints into the arena, 4-byte aligned, in native byte order.
     *
     * @param src the values; an empty array gives an empty reference and allocates nothing.
     * @return a reference to element 0.
     * @throws BudgetExceededException if the request would exceed a transaction budget.
     * @throws OutOfMemoryError        if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException   if the arena is closed.
     */
    public long copyOf(final int[] src)
    {
        final int n = src.length;
        if (n == 0)
        {
            return emptyReference();
        }
        return copyIn(src, INTS_BASE, arrayBytes(n, Integer.BYTES), Integer.BYTES, true); // one bulk copy
    }

    /**
     * Copies doubles into the arena, 8-byte aligned, in native byte order.
     *
     * @param src the values; an empty array gives an empty reference and allocates nothing.
     * @return a reference to element 0.
     * @throws BudgetExceededException if the request would exceed a transaction budget.
     * @throws OutOfMemoryError        if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException   if the arena is closed.
     */
    public long copyOf(final double[] src)
    {
        final int n = src.length;
        if (n == 0)
        {
            return emptyReference();
        }
        return copyIn(src, DOUBLES_BASE, arrayBytes(n, Double.BYTES), Double.BYTES, true); // one bulk copy
    }

    /**
     * Copies a string as UTF-8 in Agrona's length-prefixed layout: a 4-byte native-order length, then the
     * bytes, 4-byte aligned, so {@code arena.buffer(ref).getStringUtf8(Arena.offset(ref))} reads it back.
     * Encodes without a temporary array (zero garbage); an unpaired surrogate becomes {@code '?'}, as in
     * {@link String#getBytes(java.nio.charset.Charset)}.
     *
     * @param value the string.
     * @return a reference to the length prefix.
     * @throws IllegalArgumentException         if the encoding exceeds {@link #MAX_ALLOCATION} bytes.
     * @throws BudgetExceededException          if the request would exceed a transaction budget.
     * @throws OutOfMemoryError                 if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException            if the arena is closed.
     * @throws ConcurrentModificationException  if {@code value} changed while it was copied (it is read twice: to
     *                                          measure, then to encode, and no write ever passes the measured
     *                                          length), or its {@code charAt} rewound, reset or closed this arena or
     *                                          registered a cleanup action on it; the allocation is taken back.
     */
    public long copyOfUtf8(final CharSequence value)
    {
        return copyUtf8(value, true);
    }

    /**
     * Like {@link #copyOfUtf8(CharSequence)} but returns {@link #NULL} when the memory is not there.
     *
     * @param value the string.
     * @return a reference to the length prefix, or {@link #NULL}.
     * @throws IllegalArgumentException        if the encoding exceeds {@link #MAX_ALLOCATION} bytes.
     * @throws IllegalStateException           if the arena is closed.
     * @throws ConcurrentModificationException as {@link #copyOfUtf8(CharSequence)}.
     */
    public long tryCopyOfUtf8(final CharSequence value)
    {
        return copyUtf8(value, false);
    }

    /**
     * Copies a string as ASCII in Agrona's length-prefixed layout (4-byte native-order length, then one byte
     * per char, 4-byte aligned); chars above 127 become {@code '?'}. Read it back with
     * {@code buffer.getStringAscii(offset)}. Zero garbage.
     *
     * @param value the string.
     * @return a reference to the length prefix.
     * @throws IllegalArgumentException        if the string is too long for one allocation, or its {@code length()}
     *                                         is negative (nothing allocated).
     * @throws BudgetExceededException         if the request would exceed a transaction budget.
     * @throws OutOfMemoryError                if the reserve limit or the OS refuses a new block.
     * @throws IllegalStateException           if the arena is closed.
     * @throws ConcurrentModificationException if {@code value}'s {@code charAt} rewound, reset or closed this
     *                                         arena, or registered a cleanup action on it (its {@code length()} is
     *                                         read once: a sequence that grows meanwhile is cut there, one that
     *                                         shrinks throws from {@code charAt}); the allocation is taken back.
     */
    public long copyOfAscii(final CharSequence value)
    {
        final int length = value.length(); // read once: the allocation, the prefix and the loop all use this one
        if (length < 0)
        {
            // a broken sequence: 4 + length would allocate fewer bytes than the 4-byte prefix written into them
            throw new IllegalArgumentException("a " + value.getClass().getName() + " reported a negative length: " +
                length);
        }
        if (length > MAX_ALLOCATION - STRING_HEADER)
        {
            throw new IllegalArgumentException("string too long for one allocation: " + length + " chars");
        }
        final long before = pos;
        final long stamp = clock;
        final int depth = txDepth;
        final long serial = txSerial;
        final long ref = allocate(STRING_HEADER + length, STRING_HEADER);
        final UnsafeBuffer buffer = buffers[current];
        final int at = (int)ref;
        buffer.putInt(at, length);
        try
        {
            for (int i = 0, out = at + STRING_HEADER; i < length; i++)
            {
                final char c = value.charAt(i);
                checkUnchangedBy(value, stamp);
                buffer.putByte(out + i, c > 127 ? (byte)'?' : (byte)c);
            }
        }
        catch (final Throwable ex)
        {
            undoAfter(ex, before, stamp, depth, serial);
            throw ex;
        }
        return ref;
    }

    // ------------------------------------------------------------------------------------------------------
    // Checkpoints, rewind, reset
    // ------------------------------------------------------------------------------------------------------

    /**
     * Snapshots the current position. O(1): one small immutable object (escape analysis usually removes it
     * when the checkpoint does not leave the method).
     *
     * @return a checkpoint to {@link #rewind(Checkpoint)} to.
     * @throws IllegalStateException if the arena is closed.
     */
    public Checkpoint checkpoint()
    {
        checkOpen();
        lastCheckpoint = pos;
        return new Checkpoint(this, pos, clock);
    }

    /**
     * Frees everything allocated since {@code checkpoint} was taken, running the cleanup actions registered
     * since then (newest first). Blocks are kept for reuse. O(1) plus the cleanup actions.
     *
     * @param checkpoint a checkpoint of this arena.
     * @throws IllegalArgumentException if the checkpoint belongs to another arena.
     * @throws StaleHandleException     if the arena was rewound below the checkpoint since it was taken.
     * @throws IllegalStateException    if the checkpoint lies before the start of the innermost open
     *                                  transaction (roll that back instead), if called from a cleanup
     *                                  action, or if the arena is closed. Nothing changes in these cases.
     * @throws RuntimeException         the first failure of a cleanup action, with later ones suppressed,
     *                                  after every action ran and the rewind completed (see
     *                                  {@link CleanupException}).
     */
    public void rewind(final Checkpoint checkpoint)
    {
        if (checkpoint.arena != this)
        {
            throw new IllegalArgumentException(checkpoint + " belongs to another arena, not to " + this);
        }
        checkMutable();
        final long position = checkpoint.position;
        if (isStale(position, checkpoint.clock))
        {
            throw new StaleHandleException(checkpoint + " is stale: the arena was rewound below it");
        }
        final int depth = txDepth;
        if (depth > 0 &&
            (position < tx[at(depth, START_POSITION)] || checkpoint.clock < tx[at(depth, START_CLOCK)]))
        {
            throw new IllegalStateException(checkpoint + " lies before the start of the open transaction at depth " +
                depth + "; roll the transaction back instead");
        }
        rethrow(rewindTo(position, checkpoint.clock));
    }

    /**
     * Frees everything: runs every cleanup action (newest first) and rewinds to the start of the first block.
     * Blocks are kept warm for reuse. O(1) plus the cleanup actions.
     *
     * @throws IllegalStateException if a transaction is open (close it first), if called from a cleanup
     *                               action, or if the arena is closed. Nothing changes in these cases.
     * @throws RuntimeException      the first failure of a cleanup action, with later ones suppressed, after
     *                               every action ran and the reset completed.
     */
    public void reset()
    {
        // The common case (open, not inside a cleanup action, no transaction, no cleanup action, still in the
        // first block) is one test, and reset and restart() each stay under the JIT's always-inline size, so
        // that a loop ending in a reset compiles the same way every time (a reset compiled as a call made the
        // JIT spill the registers of the caller's allocation loop in some runs).
        if ((guard | txDepth | current | cleanups) != 0)
        {
            resetSlow();
            return;
        }
        restart();
    }

    /** reset() in the first block with nothing else to do: a discarding rewind to 0 (one start cut), if any. */
    private void restart()
    {
        if (pos != 0)
        {
            startCutClock = ++clock;
            cuts = 0;
            pos = 0;
        }
    }

    private void resetSlow()
    {
        checkMutable();
        if (txDepth > 0)
        {
            throw new IllegalStateException("cannot reset " + this + ": a transaction is open at depth " + txDepth);
        }
        rethrow(rewindTo(0, -1));
    }

    // ------------------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------------------

    /**
     * Opens a transaction: {@code try (Transaction tx = arena.transaction()) { ...; tx.commit(); }} keeps the
     * allocations made inside on commit and frees them when closed without commit. If a transaction is
     * already open, the new one is a savepoint nested in the innermost one (as {@link Transaction#savepoint()}).
     * O(1); one small handle object.
     *
     * @return the open transaction.
     * @throws IllegalStateException if the arena is closed or this is called from a cleanup action.
     * @throws OutOfMemoryError      if the heap refuses the handle; no transaction is left open then.
     */
    public Transaction transaction()
    {
        final long serial = open();
        try
        {
            return new Transaction(this, txDepth, serial);
        }
        catch (final OutOfMemoryError ex)
        {
            // a full heap refused the handle: without it nobody could end the transaction just opened (reset refused
            // for good), so it is closed again, as a commit of nothing does (open wrote no budget slot)
            commit(txDepth, serial);
            throw ex;
        }
    }

    /**
     * Opens a transaction on the primitive tier: the same transaction as {@link #transaction()} (nested in the
     * innermost open one, if any), named by a {@code long} token instead of a {@link Transaction} object, so
     * that a hot loop allocates nothing even where escape analysis cannot remove the handle. Pair it with
     * {@link #endTransaction(long)} in a {@code finally}, and {@link #commitTransaction(long)} to keep the work:
     * <pre>{@code
     * long tx = arena.beginTransaction();
     * try { ...; arena.commitTransaction(tx); } finally { arena.endTransaction(tx); }
     * }</pre>
     * O(1); no object.
     *
     * @return the token: the transaction's serial number and depth; never reused.
     * @throws IllegalStateException if the arena is closed, called from a cleanup action, or the nesting is
     *                               deeper than {@value #MAX_TOKEN_DEPTH} (use {@link Transaction} there).
     */
    public long beginTransaction()
    {
        final int depth = txDepth;
        if (depth + 1 > MAX_TOKEN_DEPTH)
        {
            throw new IllegalStateException("transaction tokens nest at most " + MAX_TOKEN_DEPTH + " deep");
        }
        final long serial = open();
        return (serial << TOKEN_DEPTH_BITS) | (depth + 1);
    }

    /**
     * Commits the transaction of a token from {@link #beginTransaction()}, as {@link Transaction#commit()}.
     * O(1).
     *
     * @param token the transaction's token.
     * @throws IllegalStateException if a savepoint inside it is still open, the token is zero or its depth bits do
     *                               not match its transaction (a corrupted token), or called from a cleanup action;
     *                               nothing changes.
     * @throws StaleHandleException  if the token's transaction was already committed or rolled back, or the arena
     *                               is closed.
     */
    public void commitTransaction(final long token)
    {
        commit(tokenDepth(token), token >>> TOKEN_DEPTH_BITS);
    }

    /**
     * Ends the transaction of a token from {@link #beginTransaction()}: rolls it back unless it was committed
     * or already rolled back (then does nothing), as {@link Transaction#close()}. O(1) per savepoint still open
     * inside it (rolled back first, innermost first) plus cleanup actions.
     *
     * @param token the transaction's token.
     * @throws IllegalStateException if the token's serial is the innermost transaction's but its depth bits are
     *                               not (a corrupted token), or if it would roll back from a cleanup action;
     *                               nothing changes.
     * @throws RuntimeException      the first failure of a cleanup action, after the rollback completed.
     */
    public void endTransaction(final long token)
    {
        final int depth = tokenDepth(token);
        final long serial = token >>> TOKEN_DEPTH_BITS;
        if (depth > 0 && !closed && isOpen(depth, serial))
        {
            rollback(depth, serial);
        }
        else if (!closed && serial == txSerial)
        {
            // the innermost transaction's serial with other depth bits: not "already ended", a corrupted token
            throw transactionMisuse(depth, serial, "end");
        }
    }

    private static int tokenDepth(final long token)
    {
        return (int)(token & MAX_TOKEN_DEPTH);
    }

    /**
     * Runs {@code body} in a transaction (nested in the innermost open one, if any): commits when it returns
     * normally, rolls back when it throws and rethrows. The body may commit or roll back itself.
     *
     * @param body the work.
     * @param <T>  the result type.
     * @param <E>  the checked exception the body may throw.
     * @return what the body returned.
     * @throws E                     what the body threw, after the rollback.
     * @throws IllegalStateException if the arena is closed, or the body left a savepoint open (then
     *                               everything is rolled back).
     */
    public <T, E extends Exception> T withTransaction(final TransactionBody<T, E> body) throws E
    {
        // not try-with-resources: it adds the close's failure to the body's as suppressed without comparing them, and
        // a preallocated exception thrown by both (the body and a cleanup action) cannot suppress itself: the caller
        // got an IllegalArgumentException instead of the body's exception
        final Transaction tx = transaction();
        final T result;
        try
        {
            result = body.run(tx);
            if (tx.isOpen())
            {
                tx.commit();
            }
        }
        catch (final Throwable ex)
        {
            try
            {
                tx.close();
            }
            catch (final Throwable closeFailure)
            {
                suppress(ex, closeFailure);
            }
            throw ex;
        }
        tx.close();
        return result;
    }

    /**
     * Runs {@code body} in a transaction and commits what it allocated even when it throws (the seed's
     * {@code with_transaction_infallible}), then rethrows. Savepoints the body left open are rolled back
     * before the commit.
     *
     * @param body the work.
     * @param <T>  the result type.
     * @param <E>  the checked exception the body may throw.
     * @return what the body returned.
     * @throws E                     what the body threw, after the commit.
     * @throws IllegalStateException if the arena is closed.
     */
    public <T, E extends Exception> T withTransactionInfallible(final TransactionBody<T, E> body) throws E
    {
        final Transaction tx = transaction();
        final T result;
        try
        {
            result = body.run(tx);
        }
        catch (final Throwable ex)
        {
            try
            {
                tx.commitClosingInner();
            }
            catch (final Throwable commitFailure)
            {
                suppress(ex, commitFailure);
            }
            throw ex;
        }
        tx.commitClosingInner();
        return result;
    }

    /**
     * @return how many transactions are open (0 outside any).
     */
    public int transactionDepth()
    {
        return txDepth;
    }

    // ------------------------------------------------------------------------------------------------------
    // Cleanup actions
    // ------------------------------------------------------------------------------------------------------

    /**
     * Registers an action to run when the arena frees what is allocated from now on: on a rewind to a
     * checkpoint taken before this call, on rollback of a transaction opened before it, on reset and on close.
     * Actions run newest first; a failing action does not stop the others. O(1) amortised; the arena pays
     * nothing for cleanup tracking until the first registration.
     *
     * @param action the action.
     * @throws NullPointerException  if {@code action} is null.
     * @throws IllegalStateException if the arena is closed, or called from a cleanup action.
     */
    public void defer(final Runnable action)
    {
        pushCleanup(Objects.requireNonNull(action, "action"));
    }

    /**
     * Registers a resource to close when the arena frees what is allocated from now on (see
     * {@link #defer(Runnable)}). Its {@code close()} is what runs, also when it is a {@link Runnable} too. A
     * checked exception from {@code close()} reaches the caller of the rewind wrapped in a {@link CleanupException}.
     *
     * @param resource the resource.
     * @throws NullPointerException  if {@code resource} is null.
     * @throws IllegalStateException if the arena is closed, or called from a cleanup action.
     */
    public void deferClose(final AutoCloseable resource)
    {
        Objects.requireNonNull(resource, "resource");
        // actions are told apart by type when they run (a Runnable is run): a resource that is also a Runnable would
        // be run instead of closed, so it is registered behind a wrapper that can only close it
        pushCleanup(resource instanceof Runnable ? new CloseOnly(resource) : resource);
    }

    /** A {@link #deferClose(AutoCloseable)} resource that is also a {@link Runnable}: closed, never run. */
    private static final class CloseOnly implements AutoCloseable
    {
        private final AutoCloseable resource;

        CloseOnly(final AutoCloseable resource)
        {
            this.resource = resource;
        }

        @Override
        public void close() throws Exception
        {
            resource.close();
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Introspection and close
    // ------------------------------------------------------------------------------------------------------

    /**
     * O(1) snapshot of the arena's use.
     *
     * @return bytes allocated (with padding), bytes reserved in blocks, block count; all 0 after close.
     */
    public ArenaStats stats()
    {
        return new ArenaStats(bytesAllocated(), reserved, blockCount);
    }

    /**
     * @return bytes allocated, alignment padding included, not the idle tails of blocks moved away from. O(1).
     */
    public long bytesAllocated()
    {
        return closed ? 0 : usedBeforeCurrent + (int)pos;
    }

    /**
     * @return blocks held, in use or kept for reuse. O(1).
     */
    public int blockCount()
    {
        return blockCount;
    }

    /**
     * @return whether {@link #close()} has been called.
     */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * Ends open transactions, innermost first, as their rollbacks do (each runs the cleanup actions registered
     * in it, newest first, under its own budget; their handles become stale), then runs the arena's own cleanup
     * actions (newest first) outside every transaction, and frees every block. Every action runs, newest first,
     * as one pass would run them. Idempotent. Everything handed out fails cleanly afterwards: references throw from
     * {@link #buffer(long)}, block buffers have capacity 0, handles throw {@link StaleHandleException}.
     *
     * @throws IllegalStateException if called from a cleanup action (nothing changes then).
     * @throws RuntimeException      the first failure of a cleanup action, with later ones suppressed, after
     *                               every block was freed.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            // a close cut short while it freed the blocks (a StackOverflowError in a block's close) left some: the
            // retry frees them
            freeBlocks();
            return;
        }
        if (runningCleanups)
        {
            throw new IllegalStateException("cannot close " + this + " from inside a cleanup action");
        }
        // The open transactions end first, innermost first, as their rollbacks would (each depth's cleanup actions run
        // with it innermost, under its own budget), then the arena's own actions run outside every transaction: run in
        // one pass with the transactions still open, an action registered on the arena before a transaction opened was
        // charged to that transaction's budget, and one that allocates was refused (EighteenthReviewArenaTest).
        Throwable failure = null;
        if (txDepth > 0)
        {
            try
            {
                failure = rollBackTo(1);
            }
            catch (final Throwable ex)
            {
                // a rollback cut short (a full heap refusing to grow the cut stack, after that depth's actions ran) must
                // not leave the other actions not run or the blocks unfreed: the depths still open end here, outside
                // every budget, and their remaining actions run below with the arena's; the refusal is the failure
                // rethrown (the failures of actions that ran before it are lost with the rollback's return)
                failure = ex;
                settle(0, NO_SERIAL, 0, tx[at(0, BUDGET_END)]);
            }
        }
        failure = cleanups > 0 ? runCleanups(-1, failure) : failure;
        // Every store that makes the arena refuse first, with no call between them, then the blocks freed: the blocks
        // were freed first, so a close cut short there (a StackOverflowError) left the arena closed with its position
        // and limits open: the fast path went on handing out memory (into a block being freed), and the retried close
        // returned at once, leaving the blocks unfreed (FifteenthReviewArenaTest).
        closed = true;
        guard |= GUARD_CLOSED;
        clock++;
        txDepth = 0;
        txSerial = NO_SERIAL;
        budgetDepth = 0;
        current = -1;
        currentBuffer = null;
        base = 0;
        capacity = 0;
        pos = CLOSED_POSITION;
        limit = -1;
        limitPos = CLOSED;
        fastLimitPos = CLOSED;
        usedBeforeCurrent = 0;
        cuts = 0;
        freeBlocks();
        rethrow(failure);
    }

    /** Frees the blocks, newest first, each forgotten once its close returned, so that a retry frees only the rest. */
    private void freeBlocks()
    {
        while (blockCount > 0)
        {
            final int i = blockCount - 1;
            final Region block = blocks[i];
            final int size = block.size();
            block.close();
            blocks[i] = null;
            buffers[i] = null;
            reserved -= size;
            blockCount = i;
        }
    }

    @Override
    public String toString()
    {
        return "Arena@" + Integer.toHexString(System.identityHashCode(this)) +
            (closed ? "[closed]" : "[" + blockCount + " blocks, " + bytesAllocated() + "/" + reserved + " B]");
    }

    // ------------------------------------------------------------------------------------------------------
    // Package-private: transactions, vectors
    // ------------------------------------------------------------------------------------------------------

    long position()
    {
        return pos;
    }

    long allocationCount()
    {
        return allocations;
    }

    long begin(final int parentDepth, final long parentSerial)
    {
        if (parentDepth != txDepth || tx[at(parentDepth, SERIAL)] != parentSerial)
        {
            throw transactionMisuse(parentDepth, parentSerial, "open a savepoint in");
        }
        return open();
    }

    /** Opens a transaction nested in the innermost one (or the first); returns its serial. */
    private long open()
    {
        checkMutable();
        final int parentDepth = txDepth;
        final int depth = parentDepth + 1;
        if (at(depth + 1, 0) > tx.length)
        {
            tx = Arrays.copyOf(tx, tx.length * 2);
        }
        // a token of another arena never matches a transaction here
        final long serial = TokenIds.next(txSerialCounter);
        txSerialCounter = serial;
        tx[at(depth, SERIAL)] = serial;
        tx[at(depth, START_POSITION)] = position();
        tx[at(depth, START_CLOCK)] = clock;
        tx[at(depth, START_ALLOCATIONS)] = allocations;
        txDepth = depth;
        txSerial = serial;
        // Arena-level allocations now go through allocateSlow, which counts them.
        fastLimitPos = COUNTING;
        return serial;
    }

    /**
     * Bytes allocated when the transaction at {@code depth} opened, derived from its start position rather than
     * stored at open: the blocks up to that position cannot change while it is open (nothing rewinds below an
     * open transaction's start), so their usedBefore entries still hold.
     */
    private long startUsed(final int depth)
    {
        final long start = tx[at(depth, START_POSITION)];
        return usedBefore[(int)(start >>> 32)] + (int)start;
    }

    long serialAt(final int depth)
    {
        return tx[at(depth, SERIAL)];
    }

    private static int at(final int depth, final int field)
    {
        return depth * TX_STRIDE + field;
    }

    boolean isOpen(final int depth, final long serial)
    {
        return depth <= txDepth && tx[at(depth, SERIAL)] == serial;
    }

    void checkInnermost(final int depth, final long serial, final String action)
    {
        // outside transactions txSerial is NO_SERIAL, which no transaction or token has
        if (serial != txSerial)
        {
            throw transactionMisuse(depth, serial, action);
        }
    }

    void commit(final int depth, final long serial)
    {
        // the depth too, not only the serial: commit sets the arena's depth from it, and a token with the right
        // serial and corrupted depth bits must not (a Transaction handle's depth is always its own)
        if (serial != txSerial || depth != txDepth)
        {
            throw transactionMisuse(depth, serial, "commit");
        }
        checkMutable();
        final int parent = depth - 1;
        // Everything read and computed before the first store, and no call after it: cut short between two stores (a
        // StackOverflowError at the array index's call), the depth was the parent's and the serial still the committed
        // transaction's, so neither the retried commit nor the parent could go on (FifteenthReviewArenaTest).
        // A top-level commit reads nothing of the transaction array.
        final long parentSerial = parent == 0 ? NO_SERIAL : tx[at(parent, SERIAL)];
        if (budgetDepth >= depth)
        {
            // this transaction's budget slots were written: the parent's budget may differ
            settle(parent, parentSerial, parent, tx[at(parent, BUDGET_END)]);
            return;
        }
        txDepth = parent;
        txSerial = parentSerial;
        if (parent == 0)
        {
            // Same budget, so the same limit: only the arena's own fast path reopens.
            fastLimitPos = limitPos;
        }
    }

    void rollback(final int depth, final long serial)
    {
        if (depth < 1 || !isOpen(depth, serial))
        {
            throw transactionMisuse(depth, serial, "roll back");
        }
        checkMutable();
        rethrow(rollBackTo(depth));
    }

    /**
     * Rolls back every open transaction from the innermost out to {@code depth}, one depth at a time: each rewinds to
     * its start (running its cleanup actions) and then hands the innermost place, and the budget, to its parent. So
     * every depth's actions run with that depth the innermost open transaction, under its own budget, exactly as if
     * the savepoints inside it had been closed first: rewound to the outer start in one pass, an outer transaction's
     * actions ran under the innermost savepoint's budget, which refused an action that allocates
     * (EighteenthReviewArenaTest). The actions run in the same order either way, newest first: a depth's actions are
     * all older than the start of the savepoint inside it, or they would be that savepoint's. A depth that cannot
     * rewind (a full heap refusing to grow the cut stack) throws with its actions run and itself still open, the
     * depths inside it rolled back: a retry goes on from there. O(depths rolled back) plus the actions.
     *
     * @return the first failure of a cleanup action, later ones suppressed on it; null if none.
     */
    private Throwable rollBackTo(final int depth)
    {
        Throwable failure = null;
        for (int d = txDepth; d >= depth; d--)
        {
            failure = rewindTo(tx[at(d, START_POSITION)], tx[at(d, START_CLOCK)], failure);
            // everything read and computed before the first store, and no call after it: a call cut short between the
            // stores (a StackOverflowError) left the rolled-back savepoint's budget, or its serial, in force over the
            // enclosing transaction, which no retry could undo (the savepoint is no longer open)
            final int parent = d - 1;
            final long parentSerial = tx[at(parent, SERIAL)];
            final int parentBudgetDepth = budgetDepth < parent ? budgetDepth : parent;
            settle(parent, parentSerial, parentBudgetDepth, tx[at(parentBudgetDepth, BUDGET_END)]);
        }
        return failure;
    }

    /**
     * Sets the innermost transaction's depth, serial and budget, and the limits the budget folds into. The room is
     * computed before the first store and nothing is called after it, so a call cut short (a
     * {@code StackOverflowError}) changes all of it or nothing: cut short between the stores, a commit or rollback left
     * a depth and serial no call accepted, or a budget no longer in force (FifteenthReviewArenaTest).
     */
    private void settle(final int depth, final long serial, final int budgeted, final long end)
    {
        final int room = room(end, usedBeforeCurrent, capacity);
        txDepth = depth;
        txSerial = serial;
        budgetDepth = budgeted;
        budgetEnd = end;
        limit = room;
        limitPos = (pos & BLOCK_MASK) | room;
        fastLimitPos = depth > 0 ? COUNTING : limitPos;
    }

    void setLimit(final int depth, final long serial, final long limit)
    {
        if (limit < 0)
        {
            throw new IllegalArgumentException("budget limit must be at least 0 bytes: " + limit);
        }
        if (!isOpen(depth, serial))
        {
            throw transactionMisuse(depth, serial, "set the limit of");
        }
        // Write out the slots of the open depths that have none yet (no own limit, the inherited end), then this
        // limit.
        for (int d = budgetDepth + 1; d <= txDepth; d++)
        {
            tx[at(d, OWN_LIMIT)] = Long.MAX_VALUE;
            tx[at(d, BUDGET_END)] = tx[at(d - 1, BUDGET_END)];
        }
        budgetDepth = txDepth;
        tx[at(depth, OWN_LIMIT)] = limit;
        // Savepoints inherit: recompute the effective budget of this depth and of every savepoint inside it.
        for (int d = depth; d <= txDepth; d++)
        {
            final long ownLimit = tx[at(d, OWN_LIMIT)];
            final long used = startUsed(d);
            final long own = ownLimit >= Long.MAX_VALUE - used ? Long.MAX_VALUE : used + ownLimit; // no overflow
            // below the parent's end: this depth owns the budget (budgetOwner() tells it by the difference)
            tx[at(d, BUDGET_END)] = Math.min(own, tx[at(d - 1, BUDGET_END)]);
        }
        restoreBudget();
    }

    long budgetRemaining(final int depth)
    {
        final long end = tx[at(Math.min(depth, budgetDepth), BUDGET_END)];
        return end == Long.MAX_VALUE ? UNLIMITED : Math.max(0, end - bytesAllocated());
    }

    long limit(final int depth)
    {
        return depth > budgetDepth || tx[at(depth, OWN_LIMIT)] == Long.MAX_VALUE ? UNLIMITED : tx[at(depth, OWN_LIMIT)];
    }

    long bytesUsedSince(final int depth)
    {
        return bytesAllocated() - startUsed(depth);
    }

    TxnDiff diff(final int depth)
    {
        final long start = tx[at(depth, START_POSITION)];
        final int startBlock = (int)(start >>> 32);
        final int startOffset = (int)start;
        final long bytesInStartBlock = current == startBlock ?
            (int)pos - startOffset : usedBefore[startBlock + 1] - usedBefore[startBlock] - startOffset;
        final int touched = (current - startBlock) + (bytesInStartBlock > 0 ? 1 : 0);
        return new TxnDiff(bytesAllocated() - startUsed(depth), touched,
            allocations - tx[at(depth, START_ALLOCATIONS)]);
    }

    Checkpoint transactionCheckpoint(final int depth)
    {
        final long position = tx[at(depth, START_POSITION)];
        // a checkpoint handed out like checkpoint()'s, so a give-back of a vector's tail stops at it too (it outlives
        // the transaction). Above the position, the mark is from before a first-block reset: no checkpoint above the
        // start is valid then, so this one sets it.
        if (lastCheckpoint < position || lastCheckpoint > pos)
        {
            lastCheckpoint = position;
        }
        return new Checkpoint(this, position, tx[at(depth, START_CLOCK)]);
    }

    /**
     * Whether a handle whose memory ends at {@code end} and that was last validated at clock {@code stamp}
     * has lost its memory to a rewind since: exact, O(cuts above {@code end}).
     */
    boolean isStale(final long end, final long stamp)
    {
        if (end > position())
        {
            return true;
        }
        for (int i = cuts - 1; i >= 0; i--)
        {
            if (cutPosition[i] < end)
            {
                return cutClock[i] > stamp;
            }
        }
        return end > 0 && startCutClock > stamp;
    }

    /** Grows the last allocation, ending at {@code end}, by {@code extra} bytes in place if it fits. */
    boolean tryExtendLast(final long end, final int extra)
    {
        if (end != pos || extra > limit - (int)pos)
        {
            return false;
        }
        pos += extra;
        return true;
    }

    /**
     * Before a vector's storage is allocated: drops the checkpoint mark if it lies above the position. Only a reset
     * in the first block leaves it there (every other discarding rewind lowers it), and no checkpoint above the
     * position is valid; left in place, it would stop {@link #shrinkLast} inside the tail of a vector that later
     * grew over it, keeping bytes allocated for a checkpoint that is dead.
     */
    void forgetStaleCheckpoint()
    {
        if (lastCheckpoint > pos)
        {
            lastCheckpoint = pos;
        }
    }

    /** Gives back the tail of the last allocation, ending at {@code end}, from {@code newEnd} on. */
    void shrinkLast(final long end, final long newEnd)
    {
        // Never below the innermost transaction's start: those bytes are not the transaction's to give back.
        long target = txDepth > 0 ? Math.max(newEnd, tx[at(txDepth, START_POSITION)]) : newEnd;
        if (lastCheckpoint > target && lastCheckpoint <= end)
        {
            // nor below a checkpoint taken inside the tail: the cut would make it stale, though nobody rewound past
            target = lastCheckpoint;
        }
        if (end == pos && target < end)
        {
            // end is the position, so target (not below the vector's start) lies in the current block.
            cut(target);
            pos = target;
        }
    }

    long allocate(final int size, final int alignment, final boolean orThrow)
    {
        return bump(size, alignment, fastLimitPos, false, orThrow);
    }

    UnsafeBuffer blockBuffer(final int block)
    {
        return buffers[block];
    }

    long blockAddress(final int block)
    {
        return blocks[block].address();
    }

    void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("Arena is closed");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------

    private long allocateSlow(final int size, final int alignment, final boolean orThrow)
    {
        checkOpen();
        final int offset = (int)pos;
        final long start = ((base + offset + alignment - 1) & -alignment) - base;
        if (start + size <= limit)
        {
            // Inside a transaction the arena's fast path always lands here, to count the allocation.
            final long block = pos & BLOCK_MASK;
            pos = block | (start + size);
            allocations++;
            return block | start;
        }
        if (start + size <= capacity)
        {
            return budgetFailure(start + size - offset, orThrow);
        }
        final long usedNow = usedBeforeCurrent + offset;

        // A block kept from before a rewind first; new blocks are aligned for the request, so no padding.
        int next = -1;
        int padding = 0;
        for (int i = current + 1; i < blockCount; i++)
        {
            final long address = blocks[i].address();
            final int pad = (int)(((address + alignment - 1) & -alignment) - address);
            if ((long)blocks[i].size() - pad >= size)
            {
                next = i;
                padding = pad;
                break;
            }
        }
        if (usedNow + padding + size > budgetEnd)
        {
            return budgetFailure(padding + size, orThrow);
        }
        if (next < 0)
        {
            // A request larger than the next block gets a block of its own and leaves the doubling alone, so that
            // one huge request does not inflate every later block. Two in a row mean the blocks are too small for
            // this workload: the doubling then jumps to the request, or every allocation would be a native block.
            // The reserve limit is checked against the jump block as it will be made, capped at maxBlockSize: checked
            // before the cap, a jump that fits was refused where twice the next size passes the cap, and the request
            // got its own block, which can leave too little reserve for the next request.
            int standard = nextBlockSize;
            if (size > standard && lastBlockOwn && size <= maxBlockSize)
            {
                final int jump = (int)Math.min(maxBlockSize, Math.max(2L * standard, size));
                if (reserved + jump <= maxReserved)
                {
                    standard = jump;
                }
            }
            final boolean ownBlock = size > standard;
            int blockSize = ownBlock ? size : standard;
            if (!ownBlock && reserved + blockSize > maxReserved && reserved + size <= maxReserved)
            {
                // the doubling would cross the reserve limit, the request does not: a last, smaller block of what the
                // limit has left (at least size), or the limit refused requests it had room for (up to half of it)
                blockSize = (int)(maxReserved - reserved);
            }
            if (reserved + blockSize > maxReserved)
            {
                if (!orThrow)
                {
                    return NULL;
                }
                throw new OutOfMemoryError(this + ": a new block of " + blockSize + " bytes would exceed the reserve limit of " +
                    maxReserved + " bytes");
            }
            if (blockCount == blocks.length)
            {
                // before the region exists, and all three or none: a full heap refusing one of these copies must
                // neither leave the region unreferenced (a leak) nor the arrays of different lengths (every later
                // new block failing on an index)
                final Region[] moreBlocks = Arrays.copyOf(blocks, blockCount * 2);
                final UnsafeBuffer[] moreBuffers = Arrays.copyOf(buffers, blockCount * 2);
                final long[] moreUsedBefore = Arrays.copyOf(usedBefore, blockCount * 2);
                blocks = moreBlocks;
                buffers = moreBuffers;
                usedBefore = moreUsedBefore;
            }
            final Region region;
            try
            {
                region = newRegion(blockSize, Math.max(BLOCK_ALIGNMENT, alignment));
            }
            catch (final OutOfMemoryError ex)
            {
                if (orThrow)
                {
                    throw ex;
                }
                return NULL;
            }
            blocks[blockCount] = region;
            buffers[blockCount] = region.buffer();
            next = blockCount++;
            reserved += blockSize;
            if (!ownBlock)
            {
                nextBlockSize = (int)Math.min(maxBlockSize, 2L * standard);
            }
            lastBlockOwn = ownBlock;
        }
        final int target = current + 1;
        if (next != target)
        {
            final Region swap = blocks[target];
            blocks[target] = blocks[next];
            blocks[next] = swap;
            buffers[target] = blocks[target].buffer();
            buffers[next] = swap.buffer();
        }
        usedBefore[target] = usedNow;
        enterBlock(target, padding + size);
        allocations++;
        return ((long)target << 32) | padding;
    }

    private long budgetFailure(final long requested, final boolean orThrow)
    {
        if (!orThrow)
        {
            return NULL;
        }
        final int owner = budgetOwner();
        throw new BudgetExceededException(owner, tx[at(owner, OWN_LIMIT)], bytesAllocated() - startUsed(owner),
            requested);
    }

    /**
     * The depth whose own limit sets the innermost open transaction's budget: the innermost depth whose budget end
     * is below its parent's (a savepoint that inherits has its parent's end exactly). Derived here, on the
     * failure path, so that opening a transaction need not copy it. O(depth).
     */
    private int budgetOwner()
    {
        int owner = Math.min(txDepth, budgetDepth); // deeper depths inherit budgetDepth's end
        while (owner > 0 && tx[at(owner, BUDGET_END)] == tx[at(owner - 1, BUDGET_END)])
        {
            owner--;
        }
        return owner;
    }

    /**
     * Moves the position to {@code newOffset} in {@code block}, with that block's limit. Every value is read and
     * computed before the first store and nothing is called after it: a call there cut short (a
     * {@code StackOverflowError}) left the position in the new block under the old block's limit, which the fast path
     * compares against, so that allocations went past the new block's end and past the budget, for good (a retried
     * rewind finds the position already at its target; FifteenthReviewArenaTest).
     */
    private void enterBlock(final int block, final int newOffset)
    {
        final Region region = blocks[block];
        final UnsafeBuffer buffer = buffers[block];
        final long address = region.address();
        final int size = region.size();
        final long used = usedBefore[block];
        final int room = room(budgetEnd, used, size);
        current = block;
        currentBuffer = buffer;
        base = address;
        capacity = size;
        usedBeforeCurrent = used;
        pos = (long)block << 32 | newOffset;
        limit = room;
        limitPos = (long)block << 32 | room;
        fastLimitPos = txDepth > 0 ? COUNTING : limitPos;
    }

    /** What of a block of {@code size} bytes, entered with {@code used} bytes allocated before it, the budget leaves. */
    private static int room(final long budgetEnd, final long used, final int size)
    {
        final long room = budgetEnd - used;
        return room >= size ? size : room > 0 ? (int)room : 0;
    }

    /** Folds the innermost budget into the limits (after {@link #setLimit} wrote it). */
    private void restoreBudget()
    {
        final int depth = txDepth;
        final int budgeted = budgetDepth;
        settle(depth, txSerial, budgeted, tx[at(depth < budgeted ? depth : budgeted, BUDGET_END)]);
    }

    /** Runs the cleanup actions newer than {@code stamp}, then moves to {@code target}; returns a failure. */
    private Throwable rewindTo(final long target, final long stamp)
    {
        return rewindTo(target, stamp, null);
    }

    /**
     * {@link #rewindTo(long, long)} after earlier passes that failed with {@code failed} (or null): the first failure
     * of them all is returned, later ones suppressed on it, as one pass would.
     */
    private Throwable rewindTo(final long target, final long stamp, final Throwable failed)
    {
        final Throwable failure = cleanups > 0 && cleanupClock[cleanups - 1] > stamp ? runCleanups(stamp, failed) :
            failed;
        moveBack(target);
        return failure;
    }

    /** The move of every rewind, without cleanup actions: a cut at {@code target}, if below the position. */
    private void moveBack(final long target)
    {
        if (target < position())
        {
            cut(target);
            final int block = (int)(target >>> 32);
            if (block != current)
            {
                enterBlock(block, (int)target);
            }
            else
            {
                pos = target;
            }
        }
    }

    /** Records that everything at or above {@code target} is discarded now. */
    private void cut(final long target)
    {
        if (target == 0)
        {
            // every cut is at or above the start: the stack empties, and this one is kept aside
            startCutClock = tick(target);
            cuts = 0;
            return;
        }
        int n = cuts;
        while (n > 0 && cutPosition[n - 1] >= target)
        {
            n--;
        }
        if (n == cutPosition.length)
        {
            // before anything changes, and both or neither: a full heap refusing a copy leaves the arena as it was
            // (arrays of different lengths made every later cut fail on an index)
            final long[] morePositions = Arrays.copyOf(cutPosition, n * 2);
            final long[] moreClocks = Arrays.copyOf(cutClock, n * 2);
            cutPosition = morePositions;
            cutClock = moreClocks;
        }
        cutPosition[n] = target;
        cutClock[n] = tick(target);
        cuts = n + 1;
    }

    /** Ticks the clock for a cut at {@code target}; returns the tick. */
    private long tick(final long target)
    {
        if (lastCheckpoint > target)
        {
            // the newest checkpoint, if above, is stale now; an older one at the target may still be valid
            lastCheckpoint = target;
        }
        return ++clock;
    }

    private void pushCleanup(final Object action)
    {
        checkOpen();
        if (runningCleanups)
        {
            // it would run in the same pass, and one that registers another each time would never end
            throw new IllegalStateException("cannot register a cleanup on " + this + " from inside a cleanup action");
        }
        if (cleanupActions == null || cleanups == cleanupActions.length)
        {
            // both or neither: a full heap refusing the second left the arrays of different lengths, and every later
            // registration failing on an index (the action not registered)
            final int length = cleanupActions == null ? 8 : cleanups * 2;
            final Object[] moreActions = cleanupActions == null ? new Object[length] :
                Arrays.copyOf(cleanupActions, length);
            final long[] moreClocks = cleanupClock == null ? new long[length] : Arrays.copyOf(cleanupClock, length);
            cleanupActions = moreActions;
            cleanupClock = moreClocks;
        }
        cleanupActions[cleanups] = action;
        cleanupClock[cleanups] = ++clock;
        cleanups++;
    }

    /**
     * Runs the cleanup actions newer than {@code stamp}, newest first, each once, all of them even when some throw;
     * returns {@code failed} (the failure of an earlier pass, or null) with their failures added (see
     * {@link #addFailure}).
     */
    private Throwable runCleanups(final long stamp, final Throwable failed)
    {
        Throwable failure = failed;
        runningCleanups = true;
        guard |= GUARD_CLEANING;
        try
        {
            while (cleanups > 0 && cleanupClock[cleanups - 1] > stamp)
            {
                final int i = --cleanups;
                final Object action = cleanupActions[i];
                cleanupActions[i] = null;
                try
                {
                    if (action instanceof Runnable)
                    {
                        ((Runnable)action).run();
                    }
                    else
                    {
                        ((AutoCloseable)action).close();
                    }
                }
                catch (final Throwable ex)
                {
                    failure = addFailure(failure, ex);
                }
            }
        }
        finally
        {
            runningCleanups = false;
            guard &= ~GUARD_CLEANING;
        }
        return failure;
    }

    /**
     * Records a cleanup action's failure: the first as it is (a checked one wrapped in a {@link CleanupException}),
     * later ones suppressed on it. Never throws: both the wrapper and the suppressed list are heap objects, and a full
     * heap refusing one here must not cut the cleanup pass short (the older actions not run, the rewind, rollback or
     * close not done). The heap's {@code OutOfMemoryError} then stands for a first failure that could not be wrapped;
     * a later failure that could not be recorded is dropped.
     */
    private static Throwable addFailure(final Throwable failure, final Throwable ex)
    {
        try
        {
            if (failure == null)
            {
                return ex instanceof RuntimeException || ex instanceof Error ? ex : new CleanupException(ex);
            }
            suppress(failure, ex);
            return failure;
        }
        catch (final OutOfMemoryError | StackOverflowError refused)
        {
            return failure != null ? failure : refused;
        }
    }

    /**
     * Adds {@code other} to {@code primary}'s suppressed list, unless they are the same object: a preallocated
     * exception thrown twice (by a body and a cleanup, or by two cleanups) cannot suppress itself, and
     * {@link Throwable#addSuppressed} would throw {@code IllegalArgumentException} in place of it.
     */
    private static void suppress(final Throwable primary, final Throwable other)
    {
        if (other != primary)
        {
            primary.addSuppressed(other);
        }
    }

    private static void rethrow(final Throwable failure)
    {
        if (failure instanceof RuntimeException)
        {
            throw (RuntimeException)failure;
        }
        if (failure instanceof Error)
        {
            throw (Error)failure;
        }
    }

    private void checkMutable()
    {
        if (guard != 0)
        {
            throw immutable();
        }
    }

    private IllegalStateException immutable()
    {
        checkOpen();
        return new IllegalStateException("cannot rewind, reset or change transactions of " + this +
            " from inside a cleanup action");
    }

    private RuntimeException transactionMisuse(final int depth, final long serial, final String action)
    {
        if (depth < 1 && serial == 0)
        {
            return new IllegalStateException("cannot " + action + " the transaction at depth " + depth +
                ": a zero token (a zeroed token variable) names no transaction");
        }
        if (closed)
        {
            return new StaleHandleException("cannot " + action + " the transaction at depth " + depth +
                ": the arena is closed");
        }
        if (serial == txSerial)
        {
            return new IllegalStateException("cannot " + action + " the transaction at depth " + depth +
                ": the token's depth does not match its transaction's, " + txDepth + " (a corrupted token)");
        }
        if (!isOpen(depth, serial))
        {
            return new StaleHandleException("cannot " + action + " the transaction at depth " + depth +
                ": it is already closed (committed or rolled back), or the token is another arena's");
        }
        return new IllegalStateException("cannot " + action + " the transaction at depth " + depth +
            ": a savepoint is open inside it at depth " + txDepth + "; commit or close that first");
    }

    /**
     * The slow path of {@link #buffer(long)}: a reference into a block before the current one, which must lie in
     * the part of that block in use. Not just "the block index is in use": after a reset, {@code allocateSlow}
     * swaps kept blocks into place, so an index may now hold a smaller block than the one a reference from
     * before the reset was cut from, and its offset would point past that block's end. (In the current block,
     * a reference at or below the position takes the fast path; one above it was rewound past.)
     */
    private UnsafeBuffer olderBuffer(final long ref)
    {
        final long block = ref >>> 32;
        final int offset = (int)ref;
        if (closed || block >= current || offset < 0 ||
            offset > usedBefore[(int)block + 1] - usedBefore[(int)block])
        {
            throw staleReference(ref);
        }
        return buffers[(int)block];
    }

    private RuntimeException staleReference(final long ref)
    {
        if (closed)
        {
            return new StaleHandleException("reference 0x" + Long.toHexString(ref) + ": the arena is closed");
        }
        return new StaleHandleException("reference 0x" + Long.toHexString(ref) + " is not in a block in use, or lies " +
            "past the part of its block in use (block " + (ref >>> 32) + ", offset " + (int)ref + "; blocks in use 0.." +
            current + "): it is NULL, foreign, or was rewound past");
    }

    private static RuntimeException invalidRequest(final int size, final int alignment)
    {
        Region.checkSize(size, MAX_ALLOCATION, "allocation size");
        Region.checkAlignment(alignment, MAX_ALIGNMENT);
        return new IllegalArgumentException("invalid request: size " + size + ", alignment " + alignment);
    }

    private static int arrayBytes(final int count, final int elementSize)
    {
        final long bytes = (long)count * elementSize;
        if (count <= 0 || bytes > MAX_ALLOCATION)
        {
            throw new IllegalArgumentException("array of " + count + " elements of " + elementSize +
                " bytes must hold between 1 and " + MAX_ALLOCATION + " bytes");
        }
        return (int)bytes;
    }

    private long emptyReference()
    {
        checkOpen();
        return position();
    }

    private long copyBytes(final byte[] src, final int from, final int length, final boolean orThrow)
    {
        Objects.checkFromIndexSize(from, length, src.length);
        if (length == 0)
        {
            return emptyReference();
        }
        return copyIn(src, BufferUtil.ARRAY_BASE_OFFSET + from, length, 1, orThrow);
    }

    private long copyDirect(final DirectBuffer src, final int index, final int length, final boolean orThrow)
    {
        Objects.checkFromIndexSize(index, length, src.capacity());
        if (length == 0)
        {
            return emptyReference();
        }
        // the source's own methods run before the allocation: Agrona's putBytes called them after it, so a source
        // that reset or closed this arena there had the copy land in whatever took the memory since (or at address 0)
        final byte[] array = src.byteArray();
        final long from = src.addressOffset() + index;
        final long ref = copyIn(array, from, length, 1, orThrow);
        Reference.reachabilityFence(src); // a Bytes source must not be reclaimed by its safety net mid-copy
        return ref;
    }

    /**
     * Allocates {@code bytes} and copies them from {@code srcBase + srcOffset} (Agrona's addressing: a heap array and
     * its offset, or {@code null} and an address), or zeroes them ({@link #ZEROES}). If the copy throws (a source
     * whose copy the JDK refuses, a {@code StackOverflowError} at its call), the allocation is taken back, as a
     * failed placement's is: no bytes kept that nobody has a reference to, charged to a budget.
     */
    private long copyIn(final Object srcBase, final long srcOffset, final int bytes, final int alignment,
        final boolean orThrow)
    {
        final long before = pos;
        final long ref = bump(bytes, alignment, fastLimitPos, false, orThrow);
        if (ref == NULL)
        {
            return NULL;
        }
        try
        {
            if (srcBase == ZEROES)
            {
                Memory.fill(base + (int)ref, bytes, (byte)0);
            }
            else
            {
                Memory.copy(srcBase, srcOffset, base + (int)ref, bytes);
            }
        }
        catch (final Throwable ex)
        {
            // no user code ran since the allocation: no cleanup, checkpoint or transaction is newer than it, so the
            // move back alone undoes it (and is shallower than undoAfter's rewind, so it fits where the copy failed)
            moveBack(before);
            throw ex;
        }
        return ref;
    }

    private long copyUtf8(final CharSequence value, final boolean orThrow)
    {
        final long encoded = utf8Length(value);
        if (encoded > MAX_ALLOCATION - STRING_HEADER)
        {
            throw new IllegalArgumentException("string too long for one allocation: " + encoded + " UTF-8 bytes");
        }
        final long before = pos;
        final long stamp = clock;
        final int depth = txDepth;
        final long serial = txSerial;
        final long ref = allocate(STRING_HEADER + (int)encoded, STRING_HEADER, orThrow);
        if (ref == NULL)
        {
            return NULL;
        }
        final UnsafeBuffer buffer = buffers[current];
        final int at = (int)ref;
        buffer.putInt(at, (int)encoded);
        try
        {
            if (encodeUtf8(value, buffer, at + STRING_HEADER, at + STRING_HEADER + (int)encoded, stamp))
            {
                return ref;
            }
            throw changedWhileCopied(value);
        }
        catch (final Throwable ex)
        {
            undoAfter(ex, before, stamp, depth, serial);
            throw ex;
        }
    }

    /**
     * Encodes {@code value} into exactly {@code [from, end)}: the second pass over a sequence that the first pass
     * ({@link #utf8Length}) measured. Every write is checked against {@code end}, so a sequence whose content
     * changed in between (a {@code StringBuilder} another thread appends to, a lazy or rope sequence) never
     * writes past the allocation.
     *
     * @return whether it filled the range exactly: false when the content changed and encodes to another length.
     */
    private boolean encodeUtf8(final CharSequence value, final UnsafeBuffer buffer, final int from, final int end,
        final long stamp)
    {
        int out = from;
        final int length = value.length();
        checkUnchangedBy(value, stamp); // length() is the caller's code too: an empty value has no charAt to check after
        for (int i = 0; i < length; i++)
        {
            final char c = value.charAt(i);
            checkUnchangedBy(value, stamp);
            if (c < 0x80)
            {
                if (out + 1 > end)
                {
                    return false;
                }
                buffer.putByte(out++, (byte)c);
            }
            else if (c < 0x800)
            {
                if (out + 2 > end)
                {
                    return false;
                }
                buffer.putByte(out++, (byte)(0xC0 | (c >> 6)));
                buffer.putByte(out++, (byte)(0x80 | (c & 0x3F)));
            }
            else if (Character.isSurrogate(c))
            {
                final char low = Character.isHighSurrogate(c) && i + 1 < length ? value.charAt(i + 1) : 0;
                checkUnchangedBy(value, stamp);
                if (Character.isLowSurrogate(low))
                {
                    if (out + 4 > end)
                    {
                        return false;
                    }
                    final int cp = Character.toCodePoint(c, low);
                    i++;
                    buffer.putByte(out++, (byte)(0xF0 | (cp >> 18)));
                    buffer.putByte(out++, (byte)(0x80 | ((cp >> 12) & 0x3F)));
                    buffer.putByte(out++, (byte)(0x80 | ((cp >> 6) & 0x3F)));
                    buffer.putByte(out++, (byte)(0x80 | (cp & 0x3F)));
                }
                else
                {
                    if (out + 1 > end)
                    {
                        return false;
                    }
                    buffer.putByte(out++, (byte)'?');
                }
            }
            else
            {
                if (out + 3 > end)
                {
                    return false;
                }
                buffer.putByte(out++, (byte)(0xE0 | (c >> 12)));
                buffer.putByte(out++, (byte)(0x80 | ((c >> 6) & 0x3F)));
                buffer.putByte(out++, (byte)(0x80 | (c & 0x3F)));
            }
        }
        return out == end;
    }

    /**
     * A copy runs user code ({@code charAt}) between its writes: if that code rewound, reset or closed this arena
     * (or registered a cleanup action, which ticks the same clock), the memory the copy writes to may be someone
     * else's or gone, so it stops before the next write. Two field loads per char, hoisted by the JIT when
     * {@code charAt} inlines (a {@code String}, a {@code StringBuilder}).
     */
    private void checkUnchangedBy(final CharSequence value, final long stamp)
    {
        if (clock != stamp || closed)
        {
            throw new ConcurrentModificationException(
                "copying a " + value.getClass().getName() + " into " + this + ": its charAt() rewound, reset or " +
                "closed the arena, or registered a cleanup action on it");
        }
    }

    private static ConcurrentModificationException changedWhileCopied(final CharSequence value)
    {
        return new ConcurrentModificationException(
            "a " + value.getClass().getName() + " changed while it was copied (its UTF-8 length differs between " +
            "two passes): nothing was copied");
    }

    private static long utf8Length(final CharSequence value)
    {
        final int length = value.length();
        long bytes = 0;
        for (int i = 0; i < length; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                bytes += 1;
            }
            else if (c < 0x800)
            {
                bytes += 2;
            }
            else if (Character.isSurrogate(c))
            {
                if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1)))
                {
                    bytes += 4;
                    i++;
                }
                else
                {
                    bytes += 1;
                }
            }
            else
            {
                bytes += 3;
            }
        }
        return bytes;
    }

    private Region newRegion(final int size, final int alignment)
    {
        return Region.builder(size).alignment(alignment).preTouch(preTouch).build();
    }

    /**
     * Builder of an {@link Arena}.
     */
    public static final class Builder
    {
        private int initialBlockSize = DEFAULT_BLOCK_SIZE;
        private int maxBlockSize = DEFAULT_MAX_BLOCK_SIZE;
        private long maxReservedBytes = Long.MAX_VALUE;
        private boolean preTouch;

        private Builder()
        {
        }

        /**
         * @param bytes size of the first block, 1 to {@link #MAX_ALLOCATION}.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is out of range.
         */
        public Builder initialBlockSize(final int bytes)
        {
            initialBlockSize = (int)Region.checkSize(bytes, MAX_ALLOCATION, "initial block size");
            return this;
        }

        /**
         * @param bytes cap on the doubling of block sizes (a larger request still gets a block of its own); a
         *              value below the first block's size means every block has the first block's size.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is out of range.
         */
        public Builder maxBlockSize(final int bytes)
        {
            maxBlockSize = (int)Region.checkSize(bytes, MAX_ALLOCATION, "max block size");
            return this;
        }

        /**
         * @param bytes most bytes the arena may reserve in blocks; a request needing more fails with
         *              {@link OutOfMemoryError} (the {@code try} forms return {@link #NULL}).
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is not positive.
         */
        public Builder maxReservedBytes(final long bytes)
        {
            maxReservedBytes = Region.checkSize(bytes, Long.MAX_VALUE, "max reserved bytes");
            return this;
        }

        /**
         * @param preTouch whether to write every page of a new block so first writes do not fault.
         * @return this builder.
         */
        public Builder preTouch(final boolean preTouch)
        {
            this.preTouch = preTouch;
            return this;
        }

        /**
         * @return a new arena with its first block allocated.
         * @throws IllegalArgumentException if the first block is above the reserve limit.
         * @throws IllegalStateException    if the JVM lacks {@link Memory#REQUIRED_FLAG}.
         * @throws OutOfMemoryError         if the operating system refuses the first block.
         */
        public Arena build()
        {
            return new Arena(this);
        }
    }
}
