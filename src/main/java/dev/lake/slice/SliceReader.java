package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;
import org.agrona.MutableDirectBuffer;

import java.lang.ref.Reference;

import static dev.lake.slice.SliceAllocator.HEADER;
import static dev.lake.slice.SliceAllocator.dataOf;

/**
 * A reusable, zero-garbage reader of one primitive-tier slice at a time: the fast read path of the primitive
 * tier. Allocate it once, then bind it to a reference, read, and close it, as often as needed; it allocates
 * nothing after construction.
 *
 * <pre>{@code
 * final SliceReader reader = new SliceReader();              // once, per reading thread
 * ...
 * long ref = alloc.allocateLongsRef(n, i -> i);
 * try (SliceReader r = reader.adopt(alloc, ref))             // the reader now owns the reference's count
 * {
 *     for (int i = 0; i < r.length(); i++) { sum += r.getLong(i); }
 * }                                                          // released here
 * }</pre>
 *
 * <p>Why it is fast and still safe: binding validates the reference once (chunk generation, slice header) and
 * then <em>holds a count</em> on the slice for as long as it stays bound, so the slice's chunk cannot be freed or
 * reused under it. Each read is then one compare of the index against the slice's length (a per-layout length,
 * so the same compare also refuses the wrong accessor) and one raw load, like a {@link SharedSlice}; it never
 * relies on Agrona's bounds checks. {@link SliceAllocator#getLong(long, int)} instead must
 * re-validate the reference on every call because it holds nothing.
 *
 * <p>The one thing a count cannot guard against is the primitive tier's known blind spot: counts belong to the
 * slice, not to each holder, so a holder that releases a reference more often than it retained it takes someone
 * else's count (see {@link SliceAllocator}). If that empties the slice and its chunk is freed while this reader is
 * bound, reads through the reader are no longer safe; {@link #close()} notices (the chunk's generation changed)
 * and throws instead of writing to memory that is not its own.
 *
 * <p>Two ways to bind: {@link #bind(SliceAllocator, long)} adds a count (one CAS; the caller keeps and later
 * releases its own), {@link #adopt(SliceAllocator, long)} moves the caller's count into the reader (no CAS; the
 * caller must not release the reference afterwards). Either way {@link #close()} drops the reader's count (one
 * or more CASes, see {@link SliceAllocator#release(long)}), which frees the chunk when it was the last.
 *
 * <p>A third way needs no reference at all: {@link SliceAllocator#allocateLocalLongs} and its siblings allocate a
 * <em>local</em> slice straight into the reader. Nobody else can reach it, so nothing is validated and closing
 * the reader releases it without an atomic instruction; but closing is then part of the allocating thread's
 * work (another thread gets {@link IllegalStateException} in strict mode, and the reader stays bound). To keep
 * that path free of GC write barriers, a reader closed after a local slice keeps referring to that slice's
 * allocator and chunk (not to their memory) until it is bound elsewhere: while it is reachable, so are they.
 *
 * <p>Misuse: reading, or closing, an unbound reader throws {@link StaleHandleException}; binding a bound reader
 * throws {@link IllegalStateException} and changes nothing; binding a released or stale reference throws
 * {@link StaleHandleException} and leaves the reader unbound; an index out of the slice throws
 * {@link IndexOutOfBoundsException}; an accessor that does not match the layout throws {@link IllegalStateException}.
 *
 * <p>Threads: a reader is a mutable cursor and must be used by one thread at a time (one per thread, or handed
 * over with safe publication). The reference it binds may come from any thread. A reader left bound holds its
 * count like a leaked primitive reference: the chunk stays pinned in the allocator's table until the allocator
 * itself is unreachable, then the cleaner frees it and counts the leak.
 */
public final class SliceReader implements AutoCloseable
{
    /** Whether this reader holds a slice. */
    private boolean bound;
    /** Whether the slice is local: released through {@link #allocator}, on the allocating thread. */
    private boolean local;
    /**
     * The chunk whose count this reader holds (through its slice's header) while bound. After a local slice it is
     * kept, so that the next local slice in the same chunk stores nothing here; otherwise {@code null} when unbound.
     */
    private Chunk chunk;
    private ElementLayout layout;
    /** Address of element 0. */
    private long address;
    /** Offset of element 0 in the chunk, for the release. */
    private int data;
    /** The chunk generation the reference carried: a freed chunk reads 0, a reset one a new value. */
    private int generation;
    private int length;
    /** {@link #length} when the layout matches the accessor, else 0: one compare checks bound, bounds and layout. */
    private int longLength;
    private int doubleLength;
    private int intLength;
    private int byteLength;
    /** The allocator of the last local slice ({@link SliceAllocator#allocateLocalLongs}), which releases it. */
    private SliceAllocator allocator;
    /** Where a local slice began in its chunk (its bytes go back there when it was the last one allocated). */
    private int start;
    /** Where a local slice's data ends in its chunk. */
    private int end;

    /**
     * Creates an unbound reader. The only allocation it ever makes.
     */
    public SliceReader()
    {
    }

    /**
     * Binds this reader to a live reference and adds one count to the slice, so the slice stays readable
     * until {@link #close()} even if every other holder releases. O(1): the reference's validation and one CAS.
     *
     * @param allocator the allocator that returned {@code ref}.
     * @param ref       a reference the caller holds a count on, or {@link SliceAllocator#EMPTY_REF}; the caller
     *                  keeps its count and releases it as usual.
     * @return this reader, for try-with-resources.
     * @throws IllegalStateException if this reader is bound (nothing changes), or the slice already has
     *                               {@link Integer#MAX_VALUE} holders (the count never wraps; the reader stays
     *                               unbound).
     * @throws StaleHandleException  if the reference was released or its chunk freed or reused; the reader stays
     *                               unbound.
     */
    public SliceReader bind(final SliceAllocator allocator, final long ref)
    {
        checkUnbound();
        final Chunk c = allocator.retainChunk(ref);
        return bindTo(allocator.layout(), c, ref, c == Chunk.NONE ? 0 : c.memory.buffer.getInt(dataOf(ref) - HEADER));
    }

    /**
     * Binds this reader to a live reference by taking over the caller's count: afterwards the reader owns it,
     * and {@link #close()} releases it; the caller must not release {@code ref} again. O(1): the reference's
     * validation, no atomic instruction.
     *
     * @param allocator the allocator that returned {@code ref}.
     * @param ref       a reference whose count the caller hands over, or {@link SliceAllocator#EMPTY_REF}.
     * @return this reader, for try-with-resources.
     * @throws IllegalStateException if this reader is bound (nothing changes: the caller still owns the count).
     * @throws StaleHandleException  if the reference was released or its chunk freed or reused; the reader stays
     *                               unbound.
     */
    public SliceReader adopt(final SliceAllocator allocator, final long ref)
    {
        checkUnbound();
        if (ref == SliceAllocator.EMPTY_REF)
        {
            return bindTo(allocator.layout(), Chunk.NONE, ref, 0);
        }
        final Chunk c = allocator.lookup(ref);
        return bindTo(allocator.layout(), c, ref, allocator.checkCounted(ref, c));
    }

    /**
     * @return whether this reader holds a slice.
     */
    public boolean isBound()
    {
        return bound;
    }

    /**
     * @return the bound slice's number of elements. O(1).
     * @throws StaleHandleException if this reader is not bound.
     */
    public int length()
    {
        if (!bound)
        {
            throw unbound();
        }
        return length;
    }

    /**
     * @return the bound slice's element layout.
     * @throws StaleHandleException if this reader is not bound.
     */
    public ElementLayout layout()
    {
        if (!bound)
        {
            throw unbound();
        }
        return layout;
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#LONG} slice. O(1): one compare and one load.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the layout is not LONG.
     */
    public long getLong(final int index)
    {
        if (index < 0 || index >= longLength)
        {
            throw refused(index, ElementLayout.LONG);
        }
        return Memory.getLong(address + ((long)index << 3));
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#DOUBLE} slice. O(1): one compare and one load.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the layout is not DOUBLE.
     */
    public double getDouble(final int index)
    {
        if (index < 0 || index >= doubleLength)
        {
            throw refused(index, ElementLayout.DOUBLE);
        }
        return Double.longBitsToDouble(Memory.getLong(address + ((long)index << 3)));
    }

    /**
     * @param index element index.
     * @return the element of an {@link ElementLayout#INT} slice. O(1): one compare and one load.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the layout is not INT.
     */
    public int getInt(final int index)
    {
        if (index < 0 || index >= intLength)
        {
            throw refused(index, ElementLayout.INT);
        }
        return Memory.getInt(address + ((long)index << 2));
    }

    /**
     * @param index element index.
     * @return the element of a {@link ElementLayout#BYTE} slice. O(1): one compare and one load.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     * @throws IllegalStateException     if the layout is not BYTE.
     */
    public byte getByte(final int index)
    {
        if (index < 0 || index >= byteLength)
        {
            throw refused(index, ElementLayout.BYTE);
        }
        return Memory.getByte(address + index);
    }

    /**
     * Copies {@code count} elements of a {@link ElementLayout#LONG} slice, from element {@code index}, into
     * {@code dst}. O(count), one range check, no allocation.
     *
     * @param index     first element to copy.
     * @param dst       destination array.
     * @param dstOffset first array index written.
     * @param count     number of elements.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if the range is not inside the slice or the array (nothing is copied).
     * @throws IllegalStateException     if the layout is not LONG.
     */
    public void getLongs(final int index, final long[] dst, final int dstOffset, final int count)
    {
        if (!bound || layout != ElementLayout.LONG)
        {
            throw refused(0, ElementLayout.LONG);
        }
        SliceAllocator.checkRange(index, count, length, dstOffset, dst.length);
        Memory.copy(address + ((long)index << 3), dst, dstOffset, count);
        Reference.reachabilityFence(this); // a copy may reach a safepoint: the chunk this reader holds stays
    }

    /**
     * Copies {@code bytes} bytes of the slice's data, from byte {@code byteIndex} (element {@code i} starts at
     * {@code i * layout().stride()}), into an Agrona buffer: for records and codecs. O(bytes), no allocation into
     * Agrona's and Lake's own buffers; another {@code MutableDirectBuffer} type gets the bytes through a heap copy,
     * so that foreign code never holds the chunk ({@link Memory#copyOut}).
     *
     * @param byteIndex first byte of the slice's data to copy.
     * @param dst       destination buffer.
     * @param dstIndex  first byte written in {@code dst}.
     * @param bytes     number of bytes.
     * @throws StaleHandleException      if this reader is not bound.
     * @throws IndexOutOfBoundsException if the range is not inside the slice or {@code dst} (nothing is copied).
     */
    public void getBytes(final int byteIndex, final MutableDirectBuffer dst, final int dstIndex, final int bytes)
    {
        // the destination's capacity first: it is code Lake does not know, and one that closes this reader (the
        // slice's last count) frees the chunk; the reader is checked, and its chunk read, only after it ran
        final int room = dst.capacity();
        if (!bound)
        {
            throw unbound();
        }
        final Chunk c = chunk;
        SliceAllocator.checkRange(byteIndex, bytes, length * layout.stride(), dstIndex, room);
        if (bytes == 0)
        {
            return; // also the empty slice, which has no chunk memory
        }
        Memory.copyOut(c.memory.buffer, data + byteIndex, dst, dstIndex, bytes); // never the chunk to foreign code
        // the heap copy for a foreign destination allocates, a point where a reader never closed (a leak) could
        // otherwise be found unreachable and its chunk freed under the copy
        Reference.reachabilityFence(this);
    }

    /**
     * Drops this reader's count on its slice and unbinds it; the reader can be bound again. When it was the
     * slice's last count, the slice's bytes count as free, and when it was the chunk's last reference the chunk
     * is freed. O(1), no allocation.
     *
     * @throws StaleHandleException if this reader is not bound (a double close), or if the slice's count was
     *                              already taken by a holder that released more often than it retained, or its
     *                              chunk was freed or reused since (then nothing is released; the reader is
     *                              unbound either way).
     * @throws IllegalStateException if the slice is a local one ({@link SliceAllocator#allocateLocalLongs}) and the
     *                               caller is not its allocator's allocating thread (strict mode), or the close runs
     *                               inside one of that allocator's initializers: nothing is released and the reader
     *                               stays bound.
     */
    @Override
    public void close()
    {
        if (!bound)
        {
            throw new StaleHandleException("SliceReader is not bound: double close");
        }
        final Chunk c = chunk;
        final int at = data;
        if (local)
        {
            allocator.checkLocalRelease(); // throws, leaving the reader bound, on the wrong thread
            // unbound before the release: a release cut short by a StackOverflowError then costs a leak, never a
            // second release of the slice on the caller's retry (refused on entering unbind(), nothing has changed)
            unbind();
            allocator.releaseLocal(c, start, at, end);
            return;
        }
        final long bytes = (long)length * layout.stride();
        final int expected = generation;
        chunk = null;
        unbind();
        if (c != Chunk.NONE)
        {
            if (c.generation != expected)
            {
                // Another holder released the slice more often than it retained, and the chunk went: its memory
                // is no longer this reader's to touch.
                throw new StaleHandleException("SliceReader's slice is gone: its chunk was freed or reused, so a " +
                    "holder released the reference more often than it retained it");
            }
            SliceAllocator.releaseSlice(c, at, bytes);
        }
    }

    @Override
    public String toString()
    {
        return !bound ? "SliceReader[unbound]" :
            "SliceReader[" + (local ? "local, " : "") + length + " x " + layout + "]";
    }

    private SliceReader bindTo(final ElementLayout l, final Chunk c, final long ref, final int n)
    {
        final int at = c == Chunk.NONE ? 0 : dataOf(ref);
        if (allocator != null)
        {
            // the allocator of an earlier local slice, kept only for the next local one: let it go now, as the docs
            // promise, or an allocator dropped without close() stays reachable (and its chunks unfreed by the safety
            // net) for as long as this reader lives. A reader that only binds references never stores here.
            allocator = null;
        }
        chunk = c;
        layout = l;
        data = at;
        generation = SliceAllocator.generationOf(ref);
        address = c == Chunk.NONE ? 0 : c.memory.address + at;
        length = n;
        longLength = l == ElementLayout.LONG ? n : 0;
        doubleLength = l == ElementLayout.DOUBLE ? n : 0;
        intLength = l == ElementLayout.INT ? n : 0;
        byteLength = l == ElementLayout.BYTE ? n : 0;
        local = false;
        bound = true;
        return this;
    }

    /** Binds an empty local slice: it owns no chunk, and closing it releases nothing. */
    SliceReader bindEmpty(final ElementLayout l)
    {
        return bindTo(l, Chunk.NONE, SliceAllocator.EMPTY_REF, 0);
    }

    /**
     * Binds a local slice of longs that the allocator just placed at {@code at} in {@code c}: the reader owns its
     * count. Unbound, every typed length is 0, so only the long one is written; references are written only when
     * they change (no GC write barrier in a steady loop).
     */
    SliceReader bindLocalLongs(final SliceAllocator a, final Chunk c, final int from, final int at, final int n)
    {
        bindLocal(a, c, ElementLayout.LONG, from, at, at + (n << 3), n);
        longLength = n;
        return this;
    }

    /** {@link #bindLocalLongs} for any layout. */
    SliceReader bindLocal(final SliceAllocator a, final Chunk c, final int from, final int at, final int n)
    {
        final ElementLayout l = a.layout();
        bindLocal(a, c, l, from, at, at + n * l.stride(), n);
        longLength = l == ElementLayout.LONG ? n : 0;
        doubleLength = l == ElementLayout.DOUBLE ? n : 0;
        intLength = l == ElementLayout.INT ? n : 0;
        byteLength = l == ElementLayout.BYTE ? n : 0;
        return this;
    }

    /** Everything of a local bind but the typed length (the reader is unbound, so those read 0). */
    private void bindLocal(
        final SliceAllocator a, final Chunk c, final ElementLayout l, final int from, final int at, final int to, final int n)
    {
        if (allocator != a)
        {
            allocator = a;
        }
        if (chunk != c)
        {
            chunk = c;
        }
        if (layout != l)
        {
            layout = l;
        }
        data = at;
        start = from;
        end = to;
        address = c.memory.address + at;
        length = n;
        local = true;
        bound = true;
    }

    /**
     * Unbinds: every accessor checks {@link #bound} or a typed length first, so the rest (address, length, local)
     * is left as it was and rewritten by the next bind.
     */
    private void unbind()
    {
        bound = false;
        longLength = 0;
        doubleLength = 0;
        intLength = 0;
        byteLength = 0;
    }

    void checkUnbound()
    {
        if (bound)
        {
            throw new IllegalStateException(this + " is bound: close it before binding it again");
        }
    }

    private RuntimeException refused(final int index, final ElementLayout expected)
    {
        if (!bound)
        {
            return unbound();
        }
        if (layout != expected)
        {
            return new IllegalStateException("cannot read " + expected + " elements from " + this);
        }
        return new IndexOutOfBoundsException("index " + index + " out of bounds for " + this);
    }

    private static StaleHandleException unbound()
    {
        return new StaleHandleException("SliceReader is not bound (closed, or never bound)");
    }
}
