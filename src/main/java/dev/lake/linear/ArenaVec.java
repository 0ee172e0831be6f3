package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.ref.Reference;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.PrimitiveIterator;
import java.util.function.DoubleConsumer;
import java.util.function.IntConsumer;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntToLongFunction;
import java.util.function.IntUnaryOperator;
import java.util.function.LongConsumer;
import java.util.function.ObjIntConsumer;

/**
 * A growable vector of primitives or fixed-size records stored in an {@link Arena}: the seed's
 * {@code ArenaVec}. One small class per element type ({@link OfLong}, {@link OfInt}, {@link OfDouble},
 * {@link OfRecord}) rather than one class with typed accessors: a {@code push(1)} on a vector of longs then
 * cannot pick the wrong overload, each call site stays monomorphic for the JIT, and no accessor pays a
 * runtime type check.
 *
 * <h2>Growth</h2>
 * Capacity doubles (at least {@value #MIN_CAPACITY} elements). When the vector's storage is the arena's last
 * allocation it grows in place (the arena's bump moves on, nothing is copied); otherwise it moves to a new
 * allocation and the old storage stays in the arena as idle bytes until a rewind frees it. Growth counts
 * against the innermost transaction's budget: {@code push}/{@code reserve} throw
 * {@link BudgetExceededException}, {@link #tryReserve(int)} returns {@code false}, and the vector is unchanged.
 * The same holds when the arena's reserve limit or the operating system refuses a new block: every call that
 * grows the vector ({@code push}, {@code addAll}, {@code reserve}, the factories that take a capacity) throws
 * {@link OutOfMemoryError} then. A vector holds at most {@code Arena.MAX_ALLOCATION / elementSize()} elements
 * (element count times element size never exceeds an {@code int}); a growth past that throws
 * {@link IllegalArgumentException} naming the figures, and nothing changes.
 *
 * <h2>finish()</h2>
 * {@code finish()} hands the elements to the arena and returns an {@link ArenaView}: a read view that lives
 * as long as the arena's memory under it (until a rewind below it, a reset or close). When the vector was
 * the last allocation, the unused capacity goes back to the arena (down to the innermost open transaction's
 * start or the highest checkpoint still valid inside it, {@link Arena#checkpoint()}'s or
 * {@link Transaction#checkpoint()}'s, whichever is higher, so that no valid checkpoint goes stale). One
 * conservative case keeps more: a checkpoint taken inside a transaction that started inside that capacity,
 * stale since the transaction's rollback, still stops the give-back at the transaction's start (where an older
 * checkpoint could be valid; the arena keeps no list of them). The vector itself is dead afterwards: every call
 * but {@link #elementSize()}, {@link #isFinished()} and {@code toString()} throws {@link StaleHandleException}.
 *
 * <h2>Checks</h2>
 * Every call checks that the vector is not finished and that the arena has not been rewound below its
 * storage, reset or closed since it last looked (one compare of the arena's clock in the common case; an
 * exact check when the clock moved), and bounds-checks indexes itself. Checkpoint caveat: in-place growth
 * after a checkpoint lies above that checkpoint, so rewinding to it frees the grown storage and the vector
 * fails from then on. Not thread-safe, like its arena.
 */
public abstract class ArenaVec
{
    /** The smallest capacity a vector grows to on its first element. */
    public static final int MIN_CAPACITY = 8;

    private static final UnsafeBuffer EMPTY = Region.emptyBuffer(); // shared, so it refuses wrap

    final Arena arena;
    final int elementSize;
    private final int alignment;
    UnsafeBuffer buffer = EMPTY;
    private int block;
    int start;
    int capacity;
    int size;
    // For the push fast path: the native address of element 0, and capacity while live, -1 once finished,
    // so that one compare covers both "room left" and "not finished".
    long address;
    int pushLimit;
    long stamp;
    private boolean finished;

    ArenaVec(final Arena arena, final int elementSize, final int alignment, final int initialCapacity)
    {
        arena.checkOpen();
        if (initialCapacity < 0)
        {
            throw new IllegalArgumentException("initial capacity must be at least 0: " + initialCapacity);
        }
        this.arena = arena;
        this.elementSize = elementSize;
        this.alignment = alignment;
        this.stamp = arena.clock;
        if (initialCapacity > 0)
        {
            grow(initialCapacity, true, true);
        }
    }

    /**
     * @param arena the arena.
     * @return an empty vector of longs (no memory until the first element).
     * @throws IllegalStateException if the arena is closed.
     */
    public static OfLong ofLongs(final Arena arena)
    {
        return new OfLong(arena, 0);
    }

    /**
     * @param arena    the arena.
     * @param capacity elements to allocate room for now, exactly.
     * @return an empty vector of longs.
     * @throws IllegalArgumentException if {@code capacity} is negative or too large.
     * @throws BudgetExceededException  if the room would exceed a transaction budget.
     * @throws OutOfMemoryError         if the arena cannot get a block for it.
     * @throws IllegalStateException    if the arena is closed.
     */
    public static OfLong ofLongs(final Arena arena, final int capacity)
    {
        return new OfLong(arena, capacity);
    }

    /**
     * @param arena the arena.
     * @return an empty vector of ints.
     * @throws IllegalStateException if the arena is closed.
     */
    public static OfInt ofInts(final Arena arena)
    {
        return new OfInt(arena, 0);
    }

    /**
     * @param arena    the arena.
     * @param capacity elements to allocate room for now.
     * @return an empty vector of ints.
     * @throws IllegalArgumentException if {@code capacity} is negative or too large.
     * @throws BudgetExceededException  if the room would exceed a transaction budget.
     * @throws OutOfMemoryError         if the arena cannot get a block for it.
     * @throws IllegalStateException    if the arena is closed.
     */
    public static OfInt ofInts(final Arena arena, final int capacity)
    {
        return new OfInt(arena, capacity);
    }

    /**
     * @param arena the arena.
     * @return an empty vector of doubles.
     * @throws IllegalStateException if the arena is closed.
     */
    public static OfDouble ofDoubles(final Arena arena)
    {
        return new OfDouble(arena, 0);
    }

    /**
     * @param arena    the arena.
     * @param capacity elements to allocate room for now.
     * @return an empty vector of doubles.
     * @throws IllegalArgumentException if {@code capacity} is negative or too large.
     * @throws BudgetExceededException  if the room would exceed a transaction budget.
     * @throws OutOfMemoryError         if the arena cannot get a block for it.
     * @throws IllegalStateException    if the arena is closed.
     */
    public static OfDouble ofDoubles(final Arena arena, final int capacity)
    {
        return new OfDouble(arena, capacity);
    }

    /**
     * A vector of fixed-size byte records (structs, SBE blocks), packed, aligned to the largest power of two
     * up to 8 that divides {@code recordSize}.
     *
     * @param arena      the arena.
     * @param recordSize bytes per record, 1 to {@link Arena#MAX_ALLOCATION}.
     * @return an empty vector of records.
     * @throws IllegalArgumentException naming the value if {@code recordSize} is out of range.
     * @throws IllegalStateException    if the arena is closed.
     */
    public static OfRecord ofRecords(final Arena arena, final int recordSize)
    {
        return new OfRecord(arena, recordSize, 0);
    }

    /**
     * @param arena      the arena.
     * @param recordSize bytes per record.
     * @param capacity   records to allocate room for now.
     * @return an empty vector of records.
     * @throws IllegalArgumentException naming the value if an argument is out of range.
     * @throws BudgetExceededException  if the room would exceed a transaction budget.
     * @throws OutOfMemoryError         if the arena cannot get a block for it.
     * @throws IllegalStateException    if the arena is closed.
     */
    public static OfRecord ofRecords(final Arena arena, final int recordSize, final int capacity)
    {
        return new OfRecord(arena, recordSize, capacity);
    }

    /**
     * @return elements in the vector.
     * @throws StaleHandleException if the vector is finished or its memory is gone.
     */
    public final int size()
    {
        check();
        return size;
    }

    /**
     * @return whether the vector holds no element.
     * @throws StaleHandleException if the vector is finished or its memory is gone.
     */
    public final boolean isEmpty()
    {
        return size() == 0;
    }

    /**
     * @return elements the vector holds room for.
     * @throws StaleHandleException if the vector is finished or its memory is gone.
     */
    public final int capacity()
    {
        check();
        return capacity;
    }

    /**
     * @return bytes per element.
     */
    public final int elementSize()
    {
        return elementSize;
    }

    /**
     * @return whether {@code finish()} has been called.
     */
    public final boolean isFinished()
    {
        return finished;
    }

    /**
     * Removes every element; keeps the capacity. O(1).
     *
     * @throws StaleHandleException if the vector is finished or its memory is gone.
     */
    public final void clear()
    {
        check();
        size = 0;
    }

    /**
     * Keeps the first {@code newSize} elements. O(1).
     *
     * @param newSize elements to keep, 0 to {@link #size()}.
     * @throws IndexOutOfBoundsException if {@code newSize} is out of that range (nothing changes).
     * @throws StaleHandleException      if the vector is finished or its memory is gone.
     */
    public final void truncate(final int newSize)
    {
        check();
        if (newSize < 0 || newSize > size)
        {
            throw new IndexOutOfBoundsException("truncate to " + newSize + " outside 0.." + size);
        }
        size = newSize;
    }

    /**
     * Makes room for at least {@code additional} more elements (may over-allocate by doubling).
     *
     * @param additional elements, at least 0.
     * @throws IllegalArgumentException if {@code additional} is negative or the total is too large.
     * @throws BudgetExceededException  if the room would exceed a transaction budget (nothing changes).
     * @throws OutOfMemoryError         if the arena cannot get a new block.
     * @throws StaleHandleException     if the vector is finished or its memory is gone.
     */
    public final void reserve(final int additional)
    {
        check();
        grow(additional, true, false);
    }

    /**
     * Makes room for exactly {@code additional} more elements if there is not room already.
     *
     * @param additional elements, at least 0.
     * @throws IllegalArgumentException if {@code additional} is negative or the total is too large.
     * @throws BudgetExceededException  if the room would exceed a transaction budget (nothing changes).
     * @throws OutOfMemoryError         if the arena cannot get a new block.
     * @throws StaleHandleException     if the vector is finished or its memory is gone.
     */
    public final void reserveExact(final int additional)
    {
        check();
        grow(additional, true, true);
    }

    /**
     * Like {@link #reserve(int)} but reports a refusal (budget, reserve limit, OS) instead of throwing.
     *
     * @param additional elements, at least 0.
     * @return whether the room is there now; on {@code false} nothing changed.
     * @throws IllegalArgumentException if {@code additional} is negative or the total is too large.
     * @throws StaleHandleException     if the vector is finished or its memory is gone.
     */
    public final boolean tryReserve(final int additional)
    {
        check();
        return grow(additional, false, false);
    }

    @Override
    public String toString()
    {
        return getClass().getSimpleName() + "[" + (finished ? "finished" : size + "/" + capacity) + "]";
    }

    final void check()
    {
        if (finished)
        {
            throw new StaleHandleException(
                "ArenaVec is finished: its elements belong to the arena now; use the view finish() returned");
        }
        if (arena.clock != stamp)
        {
            revalidate();
        }
    }

    private void revalidate()
    {
        if (arena.isClosed())
        {
            throw new StaleHandleException("ArenaVec used after its arena was closed");
        }
        if (capacity > 0 && arena.isStale(storageEnd(), stamp))
        {
            throw new StaleHandleException("ArenaVec used after its arena was rewound or reset below its storage");
        }
        stamp = arena.clock;
    }

    private long storageEnd()
    {
        return ((long)block << 32) | (start + (long)capacity * elementSize);
    }

    /**
     * The record pushes' fast path (the primitive pushes inline the same two parts, {@link #roomFor(int)} and
     * {@link #claimSlow(int)}, with the store in each branch): makes room for the next element and returns its
     * native address. Claims nothing: the caller writes the element, then moves the size, so that a write that
     * fails (a source whose copy is refused, a {@code StackOverflowError}) counts no element it never wrote. The
     * address is in bounds by the room compare, so the caller writes there raw and relies on no Agrona bounds
     * check. Failed checks and growth go out of line, so this stays small enough to inline at every push site.
     *
     * @param bytes the element size.
     */
    final long claim(final int bytes)
    {
        final int n = size;
        if (roomFor(n))
        {
            return address + (long)n * bytes;
        }
        return claimSlow(bytes);
    }

    /**
     * The fast-path test of every push: room for element {@code n} (and not finished: {@code pushLimit} is -1
     * then) and the arena's clock unchanged since this vector last looked. Two compares.
     */
    final boolean roomFor(final int n)
    {
        return n < pushLimit && arena.clock == stamp;
    }

    /**
     * The out-of-line part of a push: the full check, growth when full; returns the next element's address
     * and, as {@link #claim(int)}, claims nothing (the caller moves the size after its write). The primitive pushes
     * do their store in each branch (fast path, or after this call) rather than after a merge of the two:
     * measured, a store after the merge made C2 compile the growing push loop markedly slower.
     */
    final long claimSlow(final int bytes)
    {
        check();
        if (size == capacity)
        {
            grow(1, true, false);
        }
        return address + (long)size * bytes;
    }

    /** Makes room for {@code additional} more elements; the caller checked. */
    final boolean grow(final int additional, final boolean orThrow, final boolean exact)
    {
        if (additional < 0)
        {
            throw new IllegalArgumentException("additional elements must be at least 0: " + additional);
        }
        final long needed = (long)size + additional;
        if (needed <= capacity)
        {
            return true;
        }
        final long maxElements = Arena.MAX_ALLOCATION / elementSize;
        if (needed > maxElements)
        {
            throw new IllegalArgumentException("ArenaVec cannot hold " + needed + " elements of " + elementSize +
                " bytes (at most " + maxElements + ")");
        }
        long target = exact ? needed : Math.min(maxElements, Math.max(needed, Math.max(MIN_CAPACITY, 2L * capacity)));
        if (capacity > 0)
        {
            final long end = storageEnd();
            if (arena.tryExtendLast(end, (int)((target - capacity) * elementSize)))
            {
                capacity = (int)target;
                pushLimit = capacity;
                return true;
            }
            if (target > needed && arena.tryExtendLast(end, (int)((needed - capacity) * elementSize)))
            {
                capacity = (int)needed;
                pushLimit = capacity;
                return true;
            }
        }
        // a checkpoint mark above the position is dead; the new storage may grow over it and must not keep its tail
        // for it at finish()
        arena.forgetStaleCheckpoint();
        long ref = arena.tryAllocate((int)(target * elementSize), alignment);
        if (ref == Arena.NULL && target > needed)
        {
            target = needed;
            ref = arena.allocate((int)(needed * elementSize), alignment, orThrow);
        }
        else if (ref == Arena.NULL && orThrow)
        {
            ref = arena.allocate((int)(target * elementSize), alignment);
        }
        if (ref == Arena.NULL)
        {
            return false;
        }
        final int newBlock = Arena.block(ref);
        final UnsafeBuffer newBuffer = arena.blockBuffer(newBlock);
        if (size > 0)
        {
            newBuffer.putBytes(Arena.offset(ref), buffer, start, size * elementSize);
        }
        buffer = newBuffer;
        block = newBlock;
        start = Arena.offset(ref);
        address = arena.blockAddress(newBlock) + start;
        capacity = (int)target;
        pushLimit = capacity;
        stamp = arena.clock;
        return true;
    }

    /**
     * Gives back unused capacity when possible and returns where the elements lie; the vector stays open until
     * {@link #markFinished()}, which finish() calls with the view built. So a finish() cut short before it returns
     * (a {@code StackOverflowError} in the shrink or the view's constructor) leaves a usable vector that a retried
     * finish() finishes, never a finished one whose view nobody got. A second shrink is a no-op: the capacity is the
     * size by then.
     */
    final long finishStorage()
    {
        check();
        if (capacity == 0)
        {
            return -1;
        }
        final long dataEnd = ((long)block << 32) | (start + (long)size * elementSize);
        arena.shrinkLast(storageEnd(), dataEnd);
        capacity = size;
        pushLimit = size; // the capacity's copy for the push fast path
        return ((long)block << 32) | start;
    }

    /** Ends the vector once its view is built: stores only, no call, so it is all or nothing. */
    final void markFinished()
    {
        finished = true;
        pushLimit = -1;
    }

    final int checkIndex(final int index)
    {
        check();
        return start + Objects.checkIndex(index, size) * elementSize;
    }

    /**
     * The last element's index in {@link #buffer}, for a pop: checked, not removed. The caller reads it, then calls
     * {@link #popped()}, so a read cut short (a {@code StackOverflowError}) removes nothing it did not return.
     */
    final int popIndex()
    {
        check();
        if (size == 0)
        {
            throw new NoSuchElementException("pop from an empty " + getClass().getSimpleName());
        }
        return start + (size - 1) * elementSize;
    }

    /** After a pop's read: the last element is removed. */
    final void popped()
    {
        size--;
    }

    /**
     * Starts a generated append of {@code count} elements: validates, makes room (one capacity check, growth at
     * most once) and returns the native address element {@link #size} goes to. Claims nothing: the caller
     * writes each generated value past the size and moves the size once, after the last.
     */
    final long generateStart(final int count, final Object generator)
    {
        check();
        Objects.requireNonNull(generator, "generator");
        if (count < 0)
        {
            throw new IllegalArgumentException("count must be at least 0: " + count);
        }
        if (size + (long)count > capacity)
        {
            grow(count, true, false);
        }
        return address + (long)size * elementSize;
    }

    /**
     * Checks that a generated append may store its next value: the generator left the vector's size and storage
     * alone ({@code n} and {@code room} are what {@link #generateStart} left), and the arena was not rewound
     * or reset below the storage. A clock tick alone (a cleanup registered, a rewind elsewhere) is checked
     * exactly, as a push checks it. Loop-invariant when the generator inlines, so C2 can lift it out.
     *
     * @throws IllegalStateException if the generator changed the vector.
     * @throws StaleHandleException  if the generator closed, rewound or reset the arena below the vector.
     */
    final void checkGenerating(final int n, final int room)
    {
        if (size != n || capacity != room)
        {
            throw new IllegalStateException("the generator of addAll changed the " + getClass().getSimpleName() +
                " it appends to (size " + n + " -> " + size + ", capacity " + room + " -> " + capacity + ")");
        }
        if (arena.clock != stamp)
        {
            check();
        }
    }

    /**
     * Makes room for {@code count} more elements (one capacity check, growth at most once) and returns the
     * native address of the first. Claims nothing: the caller copies, then moves the size ({@link #appended}), so a
     * copy that fails (a source the copy refuses, a {@code StackOverflowError}) counts no element it never wrote.
     * The caller checked the vector and its source range, so the vector is unchanged when this throws.
     */
    final long appendRange(final int count)
    {
        if (count < 0)
        {
            throw new IllegalArgumentException("count must be at least 0: " + count);
        }
        if (size + (long)count > capacity)
        {
            grow(count, true, false);
        }
        return address + (long)size * elementSize;
    }

    /** After the copy into {@link #appendRange}'s room: the {@code count} elements written now count. */
    final void appended(final int count)
    {
        size += count;
    }

    /** Appends {@code count} elements copied from {@code src} at {@code index}: one bulk copy. */
    final void appendFrom(final DirectBuffer src, final int index, final int count)
    {
        check();
        final long bytes = (long)count * elementSize;
        Objects.checkFromIndexSize(index, bytes, src.capacity());
        if (count > 0)
        {
            // the source's own methods run before the vector is checked again and claims: Memory.copy(DirectBuffer)
            // asked for them after the claim, so a source that reset the arena there had the copy land in whatever
            // took the vector's memory since
            final byte[] array = src.byteArray();
            final long from = src.addressOffset() + index;
            check();
            Memory.copy(array, from, appendRange(count), bytes);
            appended(count);
            Reference.reachabilityFence(src); // a Bytes source must not be reclaimed by its safety net mid-copy
        }
    }

    /**
     * A vector of {@code long}s in native byte order.
     */
    public static final class OfLong extends ArenaVec
    {
        OfLong(final Arena arena, final int capacity)
        {
            super(arena, Long.BYTES, Long.BYTES, capacity);
        }

        /**
         * Appends a value. Amortised O(1), no Java object.
         *
         * @param value the value.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void push(final long value)
        {
            final int n = size;
            if (roomFor(n))
            {
                Memory.putLong(address + ((long)n << 3), value);
                size = n + 1;
                return;
            }
            Memory.putLong(claimSlow(Long.BYTES), value);
            size++; // after the write, as the fast path
        }

        /**
         * Removes and returns the last value.
         *
         * @return the value.
         * @throws NoSuchElementException if the vector is empty.
         * @throws StaleHandleException   if the vector is finished or its memory is gone.
         */
        public long pop()
        {
            final long value = buffer.getLong(popIndex());
            popped();
            return value;
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public long get(final int index)
        {
            return buffer.getLong(checkIndex(index));
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @param value the new value.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void set(final int index, final long value)
        {
            buffer.putLong(checkIndex(index), value);
        }

        /**
         * Appends every value of {@code src} (one reservation, then a copy).
         *
         * @param src the values.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void addAll(final long[] src)
        {
            addAll(src, 0, src.length);
        }

        /**
         * Appends {@code length} values of {@code src} from {@code from}.
         *
         * @param src    the values.
         * @param from   first value.
         * @param length values to append.
         * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final long[] src, final int from, final int length)
        {
            check();
            Objects.checkFromIndexSize(from, length, src.length);
            if (length > 0)
            {
                Memory.copy(src, from, length, appendRange(length));
                appended(length);
            }
        }

        /**
         * Appends {@code count} longs read from {@code src} at {@code index} (native byte order), one copy.
         *
         * @param src   the source buffer.
         * @param index first byte.
         * @param count longs to append.
         * @throws IndexOutOfBoundsException if the bytes are outside {@code src} (nothing changes).
         * @throws IllegalArgumentException  if the vector would hold more than its largest size (see the class
         *                                   Javadoc; nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final DirectBuffer src, final int index, final int count)
        {
            appendFrom(src, index, count);
        }

        /**
         * Appends {@code count} values computed by {@code generator} (called with 0 to {@code count - 1}, in
         * order), as {@link java.util.Arrays#setAll} fills an array: one capacity check and growth at most once,
         * then one raw store per value, no boxing, no Java object. All or nothing: the values become elements
         * only after the last is stored, so if {@code generator} throws, the exception propagates and the size
         * is unchanged (capacity may have grown). The generator may allocate from the arena; it must not resize
         * this vector (checked before every store: its size and capacity must stay as they were) or rewind the
         * arena below it. Setting an existing element from the generator is allowed and not detected.
         *
         * @param count     values to append, at least 0.
         * @param generator computes the value from its position in this batch.
         * @throws IllegalArgumentException if {@code count} is negative or the total is too large.
         * @throws IllegalStateException    if the generator changed this vector's size or capacity (nothing of
         *                                  the batch appended).
         * @throws BudgetExceededException  if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException     if the vector is finished or its memory is gone, also when the
         *                                  generator closed, rewound or reset the arena below it.
         */
        public void addAll(final int count, final IntToLongFunction generator)
        {
            final long at = generateStart(count, generator);
            final int n = size;
            final int room = capacity;
            for (int i = 0; i < count; i++)
            {
                final long value = generator.applyAsLong(i);
                checkGenerating(n, room);
                Memory.putLong(at + ((long)i << 3), value);
            }
            size = n + count;
        }

        /**
         * Calls {@code action} with each value in order, without boxing. The size is read at every step, like a
         * work list: elements the action pushes are visited too, elements it pops are not.
         *
         * @param action the action.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public void forEach(final LongConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < size; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getLong(start + (i << 3)));
            }
        }

        /**
         * @return an iterator without boxing; each step checks the vector is still valid.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public PrimitiveIterator.OfLong iterator()
        {
            check();
            return new PrimitiveIterator.OfLong()
            {
                private int next;

                @Override
                public boolean hasNext()
                {
                    return next < size();
                }

                @Override
                public long nextLong()
                {
                    if (next >= size())
                    {
                        throw new NoSuchElementException();
                    }
                    return get(next++);
                }
            };
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public long[] toArray()
        {
            check();
            final long[] out = new long[size];
            if (out.length > 0)
            {
                Memory.copy(address, out, 0, out.length);
            }
            return out;
        }

        /**
         * Hands the values to the arena and returns a read view of them that lives as long as the arena's
         * memory under it. The vector is dead afterwards. O(1).
         *
         * @return the view.
         * @throws StaleHandleException if the vector is already finished or its memory is gone.
         */
        public ArenaView.OfLong finish()
        {
            final int n = size;
            final ArenaView.OfLong view = new ArenaView.OfLong(arena, finishStorage(), n);
            markFinished();
            return view;
        }
    }

    /**
     * A vector of {@code int}s in native byte order.
     */
    public static final class OfInt extends ArenaVec
    {
        OfInt(final Arena arena, final int capacity)
        {
            super(arena, Integer.BYTES, Integer.BYTES, capacity);
        }

        /**
         * Appends a value. Amortised O(1), no Java object.
         *
         * @param value the value.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void push(final int value)
        {
            final int n = size;
            if (roomFor(n))
            {
                Memory.putInt(address + ((long)n << 2), value);
                size = n + 1;
                return;
            }
            Memory.putInt(claimSlow(Integer.BYTES), value);
            size++; // after the write, as the fast path
        }

        /**
         * @return the last value, removed.
         * @throws NoSuchElementException if the vector is empty.
         * @throws StaleHandleException   if the vector is finished or its memory is gone.
         */
        public int pop()
        {
            final int value = buffer.getInt(popIndex());
            popped();
            return value;
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public int get(final int index)
        {
            return buffer.getInt(checkIndex(index));
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @param value the new value.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void set(final int index, final int value)
        {
            buffer.putInt(checkIndex(index), value);
        }

        /**
         * @param src the values to append.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void addAll(final int[] src)
        {
            addAll(src, 0, src.length);
        }

        /**
         * @param src    the values.
         * @param from   first value.
         * @param length values to append.
         * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final int[] src, final int from, final int length)
        {
            check();
            Objects.checkFromIndexSize(from, length, src.length);
            if (length > 0)
            {
                Memory.copy(src, from, length, appendRange(length));
                appended(length);
            }
        }

        /**
         * @param src   the source buffer.
         * @param index first byte.
         * @param count ints to append (native byte order).
         * @throws IndexOutOfBoundsException if the bytes are outside {@code src} (nothing changes).
         * @throws IllegalArgumentException  if the vector would hold more than its largest size (see the class
         *                                   Javadoc; nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final DirectBuffer src, final int index, final int count)
        {
            appendFrom(src, index, count);
        }

        /**
         * Appends {@code count} values computed by {@code generator} (called with 0 to {@code count - 1}, in
         * order), as {@link java.util.Arrays#setAll} fills an array: one capacity check and growth at most once,
         * then one raw store per value, no boxing, no Java object. All or nothing: the values become elements
         * only after the last is stored, so if {@code generator} throws, the exception propagates and the size
         * is unchanged (capacity may have grown). The generator may allocate from the arena; it must not resize
         * this vector (checked before every store: its size and capacity must stay as they were) or rewind the
         * arena below it. Setting an existing element from the generator is allowed and not detected.
         *
         * @param count     values to append, at least 0.
         * @param generator computes the value from its position in this batch.
         * @throws IllegalArgumentException if {@code count} is negative or the total is too large.
         * @throws IllegalStateException    if the generator changed this vector's size or capacity (nothing of
         *                                  the batch appended).
         * @throws BudgetExceededException  if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException     if the vector is finished or its memory is gone, also when the
         *                                  generator closed, rewound or reset the arena below it.
         */
        public void addAll(final int count, final IntUnaryOperator generator)
        {
            final long at = generateStart(count, generator);
            final int n = size;
            final int room = capacity;
            for (int i = 0; i < count; i++)
            {
                final int value = generator.applyAsInt(i);
                checkGenerating(n, room);
                Memory.putInt(at + ((long)i << 2), value);
            }
            size = n + count;
        }

        /**
         * @param action called with each value in order, without boxing; the size is read at every step, so elements
         *               the action pushes are visited too, elements it pops are not.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public void forEach(final IntConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < size; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getInt(start + (i << 2)));
            }
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public int[] toArray()
        {
            check();
            final int[] out = new int[size];
            if (out.length > 0)
            {
                Memory.copy(address, out, 0, out.length);
            }
            return out;
        }

        /**
         * @return a read view of the values; the vector is dead afterwards.
         * @throws StaleHandleException if the vector is already finished or its memory is gone.
         */
        public ArenaView.OfInt finish()
        {
            final int n = size;
            final ArenaView.OfInt view = new ArenaView.OfInt(arena, finishStorage(), n);
            markFinished();
            return view;
        }
    }

    /**
     * A vector of {@code double}s in native byte order.
     */
    public static final class OfDouble extends ArenaVec
    {
        OfDouble(final Arena arena, final int capacity)
        {
            super(arena, Double.BYTES, Double.BYTES, capacity);
        }

        /**
         * Appends a value. Amortised O(1), no Java object.
         *
         * @param value the value.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void push(final double value)
        {
            final int n = size;
            if (roomFor(n))
            {
                Memory.putDouble(address + ((long)n << 3), value);
                size = n + 1;
                return;
            }
            Memory.putDouble(claimSlow(Double.BYTES), value);
            size++; // after the write, as the fast path
        }

        /**
         * @return the last value, removed.
         * @throws NoSuchElementException if the vector is empty.
         * @throws StaleHandleException   if the vector is finished or its memory is gone.
         */
        public double pop()
        {
            final double value = buffer.getDouble(popIndex());
            popped();
            return value;
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public double get(final int index)
        {
            return buffer.getDouble(checkIndex(index));
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @param value the new value.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void set(final int index, final double value)
        {
            buffer.putDouble(checkIndex(index), value);
        }

        /**
         * @param src the values to append.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public void addAll(final double[] src)
        {
            addAll(src, 0, src.length);
        }

        /**
         * Appends {@code length} values of {@code src} from {@code from} (one reservation, then one copy).
         *
         * @param src    the values.
         * @param from   first value.
         * @param length values to append.
         * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final double[] src, final int from, final int length)
        {
            check();
            Objects.checkFromIndexSize(from, length, src.length);
            if (length > 0)
            {
                Memory.copy(src, from, length, appendRange(length));
                appended(length);
            }
        }

        /**
         * @param src   the source buffer.
         * @param index first byte.
         * @param count doubles to append (native byte order), one copy.
         * @throws IndexOutOfBoundsException if the bytes are outside {@code src} (nothing changes).
         * @throws IllegalArgumentException  if the vector would hold more than its largest size (see the class
         *                                   Javadoc; nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final DirectBuffer src, final int index, final int count)
        {
            appendFrom(src, index, count);
        }

        /**
         * Appends {@code count} values computed by {@code generator} (called with 0 to {@code count - 1}, in
         * order), as {@link java.util.Arrays#setAll} fills an array: one capacity check and growth at most once,
         * then one raw store per value, no boxing, no Java object. All or nothing: the values become elements
         * only after the last is stored, so if {@code generator} throws, the exception propagates and the size
         * is unchanged (capacity may have grown). The generator may allocate from the arena; it must not resize
         * this vector (checked before every store: its size and capacity must stay as they were) or rewind the
         * arena below it. Setting an existing element from the generator is allowed and not detected.
         *
         * @param count     values to append, at least 0.
         * @param generator computes the value from its position in this batch.
         * @throws IllegalArgumentException if {@code count} is negative or the total is too large.
         * @throws IllegalStateException    if the generator changed this vector's size or capacity (nothing of
         *                                  the batch appended).
         * @throws BudgetExceededException  if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException     if the vector is finished or its memory is gone, also when the
         *                                  generator closed, rewound or reset the arena below it.
         */
        public void addAll(final int count, final IntToDoubleFunction generator)
        {
            final long at = generateStart(count, generator);
            final int n = size;
            final int room = capacity;
            for (int i = 0; i < count; i++)
            {
                final double value = generator.applyAsDouble(i);
                checkGenerating(n, room);
                Memory.putDouble(at + ((long)i << 3), value);
            }
            size = n + count;
        }

        /**
         * @param action called with each value in order, without boxing; the size is read at every step, so elements
         *               the action pushes are visited too, elements it pops are not.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public void forEach(final DoubleConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < size; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getDouble(start + (i << 3)));
            }
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public double[] toArray()
        {
            check();
            final double[] out = new double[size];
            if (out.length > 0)
            {
                Memory.copy(address, out, 0, out.length);
            }
            return out;
        }

        /**
         * @return a read view of the values; the vector is dead afterwards.
         * @throws StaleHandleException if the vector is already finished or its memory is gone.
         */
        public ArenaView.OfDouble finish()
        {
            final int n = size;
            final ArenaView.OfDouble view = new ArenaView.OfDouble(arena, finishStorage(), n);
            markFinished();
            return view;
        }
    }

    /**
     * A vector of fixed-size byte records, packed back to back. Records are read and written through
     * {@link #buffer()} at {@link #offsetOf(int)}, copied in and out, or wrapped by a flyweight with
     * {@link #wrap(int, Object, FlyweightWrapper)}. The buffer and offsets of a record are valid until the
     * next call that grows the vector (it may move).
     */
    public static final class OfRecord extends ArenaVec
    {
        OfRecord(final Arena arena, final int recordSize, final int capacity)
        {
            super(arena, (int)dev.lake.memory.Region.checkSize(recordSize, Arena.MAX_ALLOCATION, "record size"),
                Math.min(8, Integer.lowestOneBit(recordSize)), capacity);
        }

        /**
         * Appends a copy of {@code elementSize()} bytes of {@code src} from {@code index}.
         *
         * @param src   the source buffer.
         * @param index first byte of the record.
         * @throws IndexOutOfBoundsException if the record is outside {@code src} (nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void push(final DirectBuffer src, final int index)
        {
            final int bytes = elementSize;
            Objects.checkFromIndexSize(index, bytes, src.capacity());
            final byte[] array = src.byteArray(); // the source's own code first, then the claim (see appendFrom)
            final long from = src.addressOffset() + index;
            Memory.copy(array, from, claim(bytes), bytes);
            size++; // after the copy: a refused copy counts no record
            Reference.reachabilityFence(src);
        }

        /**
         * Appends a record of zero bytes.
         *
         * @return its index.
         * @throws BudgetExceededException if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException    if the vector is finished or its memory is gone.
         */
        public int pushZeroed()
        {
            final int bytes = elementSize;
            Memory.fill(claim(bytes), bytes, (byte)0);
            return size++; // after the fill: one cut short counts no record
        }

        /**
         * Appends {@code count} records copied from {@code src} at {@code index}, one copy.
         *
         * @param src   the source buffer.
         * @param index first byte.
         * @param count records to append.
         * @throws IndexOutOfBoundsException if the bytes are outside {@code src} (nothing changes).
         * @throws IllegalArgumentException  if the vector would hold more than its largest size (see the class
         *                                   Javadoc; nothing changes).
         * @throws BudgetExceededException   if growing would exceed a transaction budget (nothing changes).
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void addAll(final DirectBuffer src, final int index, final int count)
        {
            appendFrom(src, index, count);
        }

        /**
         * Removes the last record.
         *
         * @throws NoSuchElementException if the vector is empty.
         * @throws StaleHandleException   if the vector is finished or its memory is gone.
         */
        public void pop()
        {
            popIndex();
            popped();
        }

        /**
         * Copies record {@code index} into {@code dst} at {@code dstIndex}. No allocation into Agrona's and Lake's
         * own buffers; another {@code MutableDirectBuffer} type gets the bytes through one heap copy of the record,
         * so that code Lake does not know never holds the arena's block ({@link Memory#copyOut}).
         *
         * @param index    0 to {@code size() - 1}.
         * @param dst      the destination.
         * @param dstIndex first byte written.
         * @throws IndexOutOfBoundsException if {@code index} or the destination range is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void get(final int index, final MutableDirectBuffer dst, final int dstIndex)
        {
            // the destination's capacity first: it is code Lake does not know, which may reset or close the arena;
            // the record is checked after it, and a destination of another type than Agrona's and Lake's own gets a
            // heap copy, never the arena's block buffer (Memory.copyOut)
            final int room = dst.capacity();
            final int at = checkIndex(index);
            Objects.checkFromIndexSize(dstIndex, elementSize, room);
            Memory.copyOut(buffer, at, dst, dstIndex, elementSize);
        }

        /**
         * Overwrites record {@code index} with {@code elementSize()} bytes of {@code src} from {@code srcIndex}.
         *
         * @param index    0 to {@code size() - 1}.
         * @param src      the source.
         * @param srcIndex first byte read.
         * @throws IndexOutOfBoundsException if {@code index} or the source range is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public void set(final int index, final DirectBuffer src, final int srcIndex)
        {
            checkIndex(index);
            Objects.checkFromIndexSize(srcIndex, elementSize, src.capacity());
            // the source's own code first, then the index checked again (Agrona's putBytes called it after the check)
            final byte[] array = src.byteArray();
            final long from = src.addressOffset() + srcIndex;
            final int at = checkIndex(index);
            Memory.copy(array, from, buffer, at, elementSize);
            Reference.reachabilityFence(src);
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return offset of record {@code index} in {@link #buffer()}.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone.
         */
        public int offsetOf(final int index)
        {
            return checkIndex(index);
        }

        /**
         * @return the buffer the records lie in (valid until the vector grows next).
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public UnsafeBuffer buffer()
        {
            check();
            return buffer;
        }

        /**
         * Wraps a flyweight (an SBE codec) over record {@code index}, after checking the vector and the index, and
         * checks again once the wrapper returned: a wrapper that closed the arena, rewound or reset it below the
         * vector (the record's memory freed or handed out again) or finished the vector is refused with
         * {@link StaleHandleException}; one that moved the vector (growth that could not stay in place) or removed
         * the record is refused with {@link IllegalStateException}, as the flyweight would write to bytes that are
         * no longer the record. Scratch work (allocations above the vector, growth in place, cleanups) is allowed.
         * The flyweight itself is not checked afterwards: it is the primitive tier. O(1) plus the wrapper.
         *
         * @param index     0 to {@code size() - 1}.
         * @param flyweight the flyweight.
         * @param wrapper   how to wrap it, e.g. {@code MyEncoder::wrap}.
         * @param <F>       the flyweight type.
         * @return {@code flyweight}.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the vector is finished or its memory is gone, also when the wrapper
         *                                   finished it or closed, rewound or reset the arena below it.
         * @throws IllegalStateException     if the wrapper moved the vector or removed the record.
         */
        public <F> F wrap(final int index, final F flyweight, final FlyweightWrapper<F> wrapper)
        {
            final int at = checkIndex(index);
            final UnsafeBuffer records = buffer;
            wrapper.wrap(flyweight, records, at);
            // the wrapper is user code: it may have closed, reset or rewound the arena, leaving the flyweight over
            // memory that is freed or someone else's, or grown the vector out of its storage
            check();
            if (buffer != records || start + (long)index * elementSize != at || index >= size)
            {
                throw new IllegalStateException("the wrapper moved the " + getClass().getSimpleName() +
                    " or removed record " + index + " while wrap() ran: the flyweight is not over the record");
            }
            return flyweight;
        }

        /**
         * @param action called with the buffer and the offset of each record in order; the size is read at every step,
         *               so records the action pushes are visited too, records it pops are not.
         * @throws StaleHandleException if the vector is finished or its memory is gone.
         */
        public void forEach(final ObjIntConsumer<UnsafeBuffer> action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < size; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer, start + i * elementSize);
            }
        }

        /**
         * @return a read view of the records; the vector is dead afterwards.
         * @throws StaleHandleException if the vector is already finished or its memory is gone.
         */
        public ArenaView.OfRecord finish()
        {
            final int n = size;
            final ArenaView.OfRecord view = new ArenaView.OfRecord(arena, finishStorage(), n, elementSize);
            markFinished();
            return view;
        }
    }
}
