package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ConcurrentModificationException;
import java.util.Objects;

/**
 * A writable buffer over one slot of an arena: a write cursor (relative {@code put} methods that advance
 * {@link #position()}) plus a checked Agrona {@link MutableDirectBuffer} view ({@link #mutableBuffer()}) for
 * codecs that write at absolute indexes. {@link #freeze()} turns the written bytes into immutable, shared
 * {@link Bytes} with no copy; {@link #close()} without freezing returns the slot at once.
 *
 * <p>Length: {@link #length()} is the end of the furthest byte written, by the cursor or through the view, so
 * a codec that fills the view and never moves the cursor still freezes what it wrote. A zero-length write writes
 * no byte and does not move it; moving the cursor forward ({@link #position(int)}) does.
 *
 * <p>Capacity: writing past {@link #capacity()} throws {@link IndexOutOfBoundsException} naming what remained
 * and what was requested, and nothing is written. With auto-spill on, the buffer instead copies what it holds
 * to a heap array (at least twice the capacity), returns its slot to the arena at once, and continues on the
 * heap ({@link #isSpilled()}); {@code freeze()} then gives heap-backed {@code Bytes} with the same API. A spilled
 * buffer grows to at most {@code Integer.MAX_VALUE - 8} bytes: a write past that throws
 * {@link IndexOutOfBoundsException} too.
 *
 * <p>Checks: every write, and every access through the view, first checks that the buffer is still writing
 * (not frozen, not closed) and in bounds, with Lake's own checks, so a view that leaked out of a frozen buffer
 * cannot write into bytes that are now shared. Cost: one field compare and one bounds compare per write.
 *
 * <p>Not thread-safe: one thread writes a buffer; hand its {@code Bytes} to other threads.
 */
public final class Buffer implements AutoCloseable
{
    private static final byte WRITING = 0;
    private static final byte FROZEN = 1;
    private static final byte CLOSED = 2;
    /** {@link #spill}: not spilled, or spilled with the slot given back. */
    private static final byte SLOT_GIVEN_BACK = 0;
    /** {@link #spill}: spilled, the slot still held, the spill not counted yet. */
    private static final byte SLOT_KEPT = 1;
    /** {@link #spill}: spilled and counted, the slot still held. */
    private static final byte SPILL_COUNTED = 2;
    /** Largest heap array a spilled buffer grows to. */
    static final int MAX_HEAP_CAPACITY = Integer.MAX_VALUE - 8;

    final SlotSource source;
    final int slot;
    final long generation;
    private final boolean autoSpill;
    UnsafeBuffer mem;
    int base;
    int capacity;
    private int position;
    private int highWater;
    private byte state;
    private boolean spilled;
    /** While spilled: {@link #SLOT_GIVEN_BACK}, or how far the spill got in giving its slot back (see giveSlotBack). */
    private byte spill;
    private WriteView view;

    Buffer(final SlotSource source, final int slot, final long generation, final int base, final int capacity)
    {
        this.source = source;
        this.slot = slot;
        this.generation = generation;
        this.autoSpill = source.autoSpill();
        this.mem = source.memory();
        this.base = base;
        this.capacity = capacity;
    }

    /**
     * Resolves this class's call of {@link Reference#reachabilityFence} (one constant-pool entry for every call site
     * of the class) while an arena is built: its first call in the JVM resolves it, which can allocate on the heap,
     * and the last step of a release is such a call, after the slot went back. On a full heap the first release of a
     * JVM threw {@link OutOfMemoryError} there with its work done (the caller cannot tell it from a release that did
     * nothing). A full heap now fails the build, whose builder frees the region.
     */
    static void linkCallSites()
    {
        Reference.reachabilityFence(null);
    }

    /**
     * @return how many bytes the buffer can hold now: its slot's capacity, or the heap array's once spilled.
     */
    public int capacity()
    {
        return capacity;
    }

    /**
     * @return the write cursor: where the next relative {@code put} writes.
     */
    public int position()
    {
        return position;
    }

    /**
     * Moves the write cursor, for example back to a header to fill it in. Moving it forward counts the bytes
     * skipped as written. O(1), unless it spills.
     *
     * @param position the new cursor, 0 to {@link #capacity()} (beyond, with auto-spill, spills).
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if {@code position} is negative, beyond capacity without auto-spill, or
     *                                   beyond the largest heap array ({@code Integer.MAX_VALUE - 8}) with it.
     */
    public Buffer position(final int position)
    {
        writeAt(position, 0);
        if (position > highWater)
        {
            highWater = position; // the bytes skipped count as written (a zero-length write does not)
        }
        this.position = position;
        return this;
    }

    /**
     * @return the bytes a {@link #freeze()} now would cover: the end of the furthest byte written.
     */
    public int length()
    {
        return highWater;
    }

    /**
     * @return {@code capacity() - position()}: how much a relative put can still write without failing or
     *     spilling.
     */
    public int remaining()
    {
        return capacity - position;
    }

    /**
     * @return whether the buffer moved to the heap (auto-spill) and gave its slot back.
     */
    public boolean isSpilled()
    {
        return spilled;
    }

    /**
     * @return whether the buffer can still write: not frozen and not closed.
     */
    public boolean isWritable()
    {
        return state == WRITING;
    }

    /**
     * Writes one byte at the cursor and advances it. O(1).
     *
     * @param value the byte.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if no byte remains and auto-spill is off.
     */
    public Buffer putByte(final byte value)
    {
        final int at = reserve(Byte.BYTES);
        mem.putByte(at, value);
        return this;
    }

    /**
     * Writes a short in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 2 bytes remain and auto-spill is off.
     */
    public Buffer putShort(final short value)
    {
        final int at = reserve(Short.BYTES);
        mem.putShort(at, value);
        return this;
    }

    /**
     * Writes a short in the given byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @param order the byte order.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 2 bytes remain and auto-spill is off.
     */
    public Buffer putShort(final short value, final ByteOrder order)
    {
        final int at = reserve(Short.BYTES);
        mem.putShort(at, value, order);
        return this;
    }

    /**
     * Writes a char in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 2 bytes remain and auto-spill is off.
     */
    public Buffer putChar(final char value)
    {
        final int at = reserve(Character.BYTES);
        mem.putChar(at, value);
        return this;
    }

    /**
     * Writes an int in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 4 bytes remain and auto-spill is off.
     */
    public Buffer putInt(final int value)
    {
        final int at = reserve(Integer.BYTES);
        mem.putInt(at, value);
        return this;
    }

    /**
     * Writes an int in the given byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @param order the byte order.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 4 bytes remain and auto-spill is off.
     */
    public Buffer putInt(final int value, final ByteOrder order)
    {
        final int at = reserve(Integer.BYTES);
        mem.putInt(at, value, order);
        return this;
    }

    /**
     * Writes a long in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 8 bytes remain and auto-spill is off.
     */
    public Buffer putLong(final long value)
    {
        final int at = reserve(Long.BYTES);
        mem.putLong(at, value);
        return this;
    }

    /**
     * Writes a long in the given byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @param order the byte order.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 8 bytes remain and auto-spill is off.
     */
    public Buffer putLong(final long value, final ByteOrder order)
    {
        final int at = reserve(Long.BYTES);
        mem.putLong(at, value, order);
        return this;
    }

    /**
     * Writes a float in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 4 bytes remain and auto-spill is off.
     */
    public Buffer putFloat(final float value)
    {
        final int at = reserve(Float.BYTES);
        mem.putFloat(at, value);
        return this;
    }

    /**
     * Writes a double in native byte order at the cursor and advances it. O(1).
     *
     * @param value the value.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if fewer than 8 bytes remain and auto-spill is off.
     */
    public Buffer putDouble(final double value)
    {
        final int at = reserve(Double.BYTES);
        mem.putDouble(at, value);
        return this;
    }

    /**
     * Copies a whole array at the cursor and advances it. O(n).
     *
     * @param src the bytes.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if they do not fit and auto-spill is off.
     */
    public Buffer putBytes(final byte[] src)
    {
        return putBytes(src, 0, src.length);
    }

    /**
     * Copies part of an array at the cursor and advances it. O(n).
     *
     * @param src    the source array.
     * @param offset first byte of {@code src} to copy.
     * @param length how many bytes.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if the range is outside {@code src}, or does not fit and auto-spill is
     *                                   off.
     */
    public Buffer putBytes(final byte[] src, final int offset, final int length)
    {
        Objects.checkFromIndexSize(offset, length, src.length);
        final int at = reserve(length);
        mem.putBytes(at, src, offset, length);
        Reference.reachabilityFence(this); // a buffer dropped after this call is not reclaimed by its safety net mid-copy
        return this;
    }

    /**
     * Copies bytes from an Agrona buffer (for example another {@link Bytes}) at the cursor and advances it.
     * O(n).
     *
     * @param src      the source.
     * @param srcIndex first byte of {@code src} to copy.
     * @param length   how many bytes.
     * @return this buffer.
     * @throws StaleHandleException      if this buffer is frozen or closed, or {@code src} is a released handle.
     * @throws IndexOutOfBoundsException if the range is outside {@code src}, or does not fit and auto-spill is
     *                                   off.
     * @throws ConcurrentModificationException if {@code src}'s own methods wrote to this buffer so that the copy
     *                                   would have to spill after asking it for its address; nothing is copied.
     */
    public Buffer putBytes(final DirectBuffer src, final int srcIndex, final int length)
    {
        src.boundsCheck(srcIndex, length);
        if (length > capacity - position)
        {
            roomFor(length);
            src.boundsCheck(srcIndex, length); // again: the spill ran waiters' callbacks, which may have closed it
        }
        // the source's own methods run before this buffer is checked for the last time: Agrona's putBytes called
        // them after its check of the arena's buffer, so a source that closed this buffer there had the copy land
        // in the slot's next owner
        final byte[] array = src.byteArray();
        final long from = src.addressOffset() + srcIndex;
        if (length > capacity - position && autoSpill)
        {
            // the source's own methods wrote to this buffer and used up the room made above: the reservation would
            // spill now, after the source's address was taken, and the spill's waiters' callbacks may close what
            // backs it (the copy would read freed memory); refused, as a write whose charAt() spilled the buffer is
            checkWritable("write");
            throw new ConcurrentModificationException(this + ": the source's own methods wrote to this buffer " +
                "while it was copied from: nothing was copied");
        }
        final int at = reserve(length);
        Memory.copy(array, from, mem, at, length);
        Reference.reachabilityFence(src); // a Bytes source must not be reclaimed by its safety net mid-copy
        return this;
    }

    /**
     * Copies the remaining bytes of a NIO buffer at the cursor, advancing both this cursor and
     * {@code src.position()}. O(n).
     *
     * @param src the source, from its position to its limit.
     * @return this buffer.
     * @throws StaleHandleException      if the buffer is frozen or closed.
     * @throws IndexOutOfBoundsException if they do not fit and auto-spill is off.
     */
    public Buffer putBytes(final ByteBuffer src)
    {
        final int from = src.position();
        final int length = src.remaining();
        if (length > capacity - position)
        {
            roomFor(length);
            // again: the spill ran waiters' callbacks, which may have closed what backs the source (a closed
            // Region's view has no bytes left)
            Objects.checkFromIndexSize(from, length, src.limit());
        }
        final int at = reserve(length);
        mem.putBytes(at, src, from, length);
        Reference.reachabilityFence(this); // as putBytes(byte[], ..): reachable until the copy is done
        src.position(from + length);
        return this;
    }

    /**
     * A checked Agrona view for codecs (SBE encoders, Aeron claims) that write at absolute indexes: index 0 is
     * the buffer's first byte and its capacity is {@link #capacity()}. Writes through it count toward
     * {@link #length()} but do not move the cursor; past capacity they throw, or spill with auto-spill (the
     * view then follows the buffer to the heap). Every access checks the buffer is still writing, so after
     * {@link #freeze()} or {@link #close()} the view throws {@link StaleHandleException} and can never write
     * into frozen bytes. {@code wrap} is refused. Created once per buffer, on first use.
     *
     * @return the view.
     * @throws StaleHandleException if the buffer is frozen or closed.
     */
    public MutableDirectBuffer mutableBuffer()
    {
        checkWritable("view");
        WriteView v = view;
        if (v == null)
        {
            v = new WriteView(this);
            view = v;
        }
        return v;
    }

    /**
     * Freezes the bytes written, {@code [0, length())}, into immutable {@link Bytes} that share this buffer's
     * slot with no copy; the returned handle holds the one reference this buffer held. The buffer can no
     * longer write (nor can its view). O(1): no copy, one small object.
     *
     * @return the frozen bytes; release them (or {@code close()}) to give the slot back.
     * @throws StaleHandleException if the buffer is already frozen or closed.
     */
    public Bytes freeze()
    {
        checkWritable("freeze");
        // the handle first: an OutOfMemoryError after the buffer froze would leave its slot held by nobody (a frozen
        // buffer's close() does nothing) and the freeze counted
        final Bytes bytes = spilled ? new Bytes(null, mem, 0, highWater) : new Bytes(this, mem, base, highWater);
        if (spill != SLOT_GIVEN_BACK)
        {
            giveSlotBack(); // a spill cut short (see there)
        }
        state = FROZEN;
        if (spilled)
        {
            source.frozenOnHeap();
        }
        else
        {
            source.frozen(slot);
        }
        return bytes;
    }

    /**
     * Returns the slot to the arena at once if the buffer was neither frozen nor spilled; otherwise does
     * nothing (the {@code Bytes} own the slot now), so try-with-resources around a buffer that may be frozen is
     * safe. Idempotent. O(1), plus zeroing the written bytes under {@link InitPolicy#ZERO}.
     */
    @Override
    public void close()
    {
        if (state != WRITING)
        {
            return;
        }
        if (spill != SLOT_GIVEN_BACK)
        {
            giveSlotBack(); // a spill cut short (see there); before the state, so that a retry of close() finishes it
        }
        state = CLOSED;
        if (!spilled)
        {
            source.release(slot, generation, highWater);
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The spill's give-back of its slot, in steps recorded with plain stores: counted, then released. A spill cut
     * short part-way (a {@link StackOverflowError} at one of its calls: the buffer already on the heap, the write that
     * spilled it refused) left the slot held by nobody, for good without leak detection, since a spilled buffer's
     * close() and its heap {@code Bytes} never touch the arena. Now the buffer's next freeze() or close() finishes it,
     * counting the spill once. A release refused as stale means the first one got through its CAS: the arena
     * finishes that return itself ({@code SlotArena.returnSlot}).
     */
    private void giveSlotBack()
    {
        if (spill == SLOT_KEPT)
        {
            source.spilled(slot);
            spill = SPILL_COUNTED;
        }
        try
        {
            source.release(slot, generation, highWater); // the arena zeroes no more than the slot holds
        }
        catch (final StaleHandleException releasedAlready)
        {
            // the cut-short release got through its CAS
        }
        spill = SLOT_GIVEN_BACK;
        Reference.reachabilityFence(this);
    }

    @Override
    public String toString()
    {
        return "Buffer[" + source.name() + (spilled ? " spilled to heap" : " slot " + slot) + ", position " +
            position + ", length " + highWater + ", capacity " + capacity +
            (state == WRITING ? "" : state == FROZEN ? ", frozen" : ", closed") + "]";
    }

    /** Bytes that may have been written, for zeroing on release. Final once frozen. */
    int dirty()
    {
        return highWater;
    }

    void checkWritable(final String action)
    {
        if (state != WRITING)
        {
            throw new StaleHandleException(this + ": cannot " + action + ": the buffer is " +
                (state == FROZEN ? "frozen (its bytes are shared and read-only now)" : "closed (its slot was returned)"));
        }
    }

    /** Reserves {@code length} bytes at the cursor: checks, spills if needed, returns the index in {@link #mem}. */
    private int reserve(final int length)
    {
        roomFor(length);
        final int p = position; // read after any spill: a waiter's callback may have written to this buffer
        final int end = p + length;
        position = end;
        if (end > highWater)
        {
            highWater = end;
        }
        return base + p;
    }

    /**
     * Makes room for {@code length} bytes at the cursor without counting them as written: checks, and spills if it
     * must. A spill serves waiting requests on this thread, whose callbacks may freeze, close or write to this
     * buffer; {@link #grow} checks it is still writing, and the room is measured again from the cursor it left.
     */
    private void roomFor(final int length)
    {
        if (state != WRITING)
        {
            checkWritable("write");
        }
        while (length < 0 || length > capacity - position)
        {
            if (length < 0)
            {
                throw new IllegalArgumentException(this + ": negative length: " + length);
            }
            if (!autoSpill)
            {
                throw new IndexOutOfBoundsException(this + ": cannot write " + length + " bytes: remaining " +
                    (capacity - position) + " bytes, requested " + length);
            }
            grow((long)position + length); // only the first one gives a slot back and runs callbacks
        }
    }

    /**
     * Checks an absolute write of the view: spills if needed, counts {@code [index, index + length)} as written,
     * returns the index in {@link #mem}. A zero-length write writes no byte and so does not move {@link #length()}:
     * a freeze must not cover bytes nobody wrote (under {@link InitPolicy#UNINIT}, a previous owner's).
     */
    int writeAt(final int index, final long length)
    {
        checkWritable("write");
        if (index < 0 || length < 0)
        {
            throw new IndexOutOfBoundsException(this + ": index=" + index + " length=" + length);
        }
        final long end = reserve(index, length);
        if (end > highWater && length != 0)
        {
            highWater = (int)end;
        }
        return base + index;
    }

    /**
     * Counts the bytes before {@code end} as written, for a write done piece by piece around user code (room made
     * first with {@link #ensureCapacity}): a piece is counted before it is written, so that a spill caused by the
     * user code copies it (and under {@link InitPolicy#ZERO} zeroes it in the slot), and a throw leaves the length
     * at the end of what was written.
     */
    void written(final int end)
    {
        if (end > highWater)
        {
            highWater = end;
        }
    }

    /** Makes {@code [index, index + length)} writable (spilling if it must) without counting it as written. */
    void ensureCapacity(final int index, final long length)
    {
        checkWritable("write");
        if (index < 0 || length < 0)
        {
            throw new IndexOutOfBoundsException(this + ": index=" + index + " length=" + length);
        }
        reserve(index, length);
    }

    /** The capacity part of a write: room up to the end, or a spill; returns the end. */
    private long reserve(final int index, final long length)
    {
        final long end = index + length;
        if (end > capacity)
        {
            if (!autoSpill)
            {
                throw new IndexOutOfBoundsException(this + ": cannot write " + length + " bytes at index " + index +
                    ": remaining from there " + Math.max(0, capacity - index) + " bytes, requested " + length);
            }
            grow(end);
        }
        return end;
    }

    /** Auto-spill: copy to a heap array of at least {@code needed} bytes and give the slot back at once. */
    private void grow(final long needed)
    {
        if (needed > MAX_HEAP_CAPACITY)
        {
            throw new IndexOutOfBoundsException(this + ": cannot grow to " + needed + " bytes (at most " +
                MAX_HEAP_CAPACITY + ")");
        }
        final int newCapacity = (int)Math.min(MAX_HEAP_CAPACITY, Math.max(needed, 2L * capacity));
        final byte[] heap = new byte[newCapacity];
        mem.getBytes(base, heap, 0, highWater);
        final boolean first = !spilled;
        if (first)
        {
            mem = new UnsafeBuffer(heap);
            spill = SLOT_KEPT; // before spilled: both stores, no call between
            spilled = true;
        }
        else
        {
            mem.wrap(heap);
        }
        base = 0;
        capacity = newCapacity;
        if (first)
        {
            // Last, once the buffer is whole on the heap: giving the slot back serves waiting requests on this
            // thread, and their callbacks may use this buffer.
            giveSlotBack();
            if (state != WRITING)
            {
                // a callback froze or closed it: the write under way must not land in bytes now frozen and shared
                checkWritable("write");
            }
        }
    }
}
