package dev.lake.slice;

import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A read-only, shareable handle to a slice cut by a {@link SliceAllocator}: the seed's {@code ArcSlice} /
 * {@code ArcSingle}. Each handle holds one reference to its slice; the slice holds one reference to its chunk, so
 * the chunk's memory is freed exactly when the last handle (and the allocator, while the chunk is current) lets go.
 *
 * <p>Safety: every accessor first checks that this handle is not released (then throws
 * {@link StaleHandleException}) and then checks its own bounds (throws {@link IndexOutOfBoundsException}),
 * whether or not Agrona's bounds checks are on. A live handle keeps its chunk allocated, so a read through a
 * live handle always reads the slice's own bytes, even after the allocator moved on, reset a chunk or closed.
 *
 * <p>Threads: a handle may be read, shared and released from any thread once safely published. One handle
 * object must not be released by one thread while another thread still reads through it: give each thread its
 * own handle with {@link #share()} (the seed's {@code clone()}). Releasing the same handle twice, even from two
 * threads at once, throws for all but one call.
 *
 * <p>Leaks: a handle that becomes unreachable without {@link #release()} keeps its chunk allocated until every
 * other handle on that chunk is gone too and the allocator has moved on; then the cleaner frees the chunk and
 * counts one leak in {@link dev.lake.memory.NativeMemory#leaks()} naming how many slices were never released.
 * A chunk that a primitive reference ever used stays in the allocator's reference table while it holds a
 * count, so a handle leaked in such a chunk is reclaimed only once the allocator itself is unreachable.
 * The safety net costs nothing per handle.
 */
public abstract sealed class SharedHandle implements AutoCloseable permits SharedSlice, SharedSingle
{
    private static final VarHandle CHUNK;
    private static final VarHandle VIEW;

    static
    {
        try
        {
            CHUNK = MethodHandles.lookup().findVarHandle(SharedHandle.class, "chunk", Chunk.class);
            VIEW = MethodHandles.lookup().findVarHandle(SharedHandle.class, "view", SliceView.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** The chunk this handle holds a reference into; {@code null} once released or transferred. */
    Chunk chunk;
    final int offset;
    final int length;
    final ElementLayout layout;
    private SliceView view;

    SharedHandle(final Chunk chunk, final int offset, final int length, final ElementLayout layout)
    {
        this.chunk = chunk;
        this.offset = offset;
        this.length = length;
        this.layout = layout;
    }

    /**
     * @return number of elements. O(1); answers even after release.
     */
    public final int length()
    {
        return length;
    }

    /**
     * @return the element layout of the allocator that cut this slice.
     */
    public final ElementLayout layout()
    {
        return layout;
    }

    /**
     * @return bytes of element data: {@code length() * layout().stride()}.
     */
    public final int byteLength()
    {
        return length * layout.stride();
    }

    /**
     * Safe from any thread, also polled in a loop: a thread waiting for another thread's release of this handle sees
     * it (the read is opaque, so the JIT cannot hoist it out of the caller's loop).
     *
     * @return whether this handle was released (or transferred by a conversion); other handles to the same slice
     *     are not affected.
     */
    public final boolean isReleased()
    {
        // opaque: a thread polling this in a loop for another thread's release must see it (a plain read was hoisted
        // out of the caller's loop by the JIT); the accessors' own checks stay plain
        return (Chunk)CHUNK.getOpaque(this) == null;
    }

    /**
     * A read-only Agrona view over the slice's bytes, zero copy: index 0 is element 0, element {@code i} starts
     * at {@link #elementOffset(int)}. SBE decoders and any {@link DirectBuffer} reader work on it directly. It has
     * no write methods (it is not a {@code MutableDirectBuffer}) and refuses {@code wrap}. Every call checks that
     * this handle is live and bounds-checks against the slice. Created on first call, then the same instance, on every
     * thread (first calls racing on several threads all get the one that was published first).
     *
     * @return the view.
     * @throws StaleHandleException if this handle was released.
     */
    public final DirectBuffer buffer()
    {
        checkLive();
        final SliceView v = view;
        return v != null ? v : firstView();
    }

    /**
     * Makes the view on the first call, with one CAS: threads reading one handle may make their first calls at the
     * same moment, and a plain check-then-set gave them two different views of one handle, where the Javadoc promises
     * the same instance (a view is immutable and its final fields publish it safely, so the plain read above may
     * return it).
     */
    private SliceView firstView()
    {
        final SliceView made = new SliceView(this);
        final SliceView winner = (SliceView)VIEW.compareAndExchange(this, (SliceView)null, made);
        return winner == null ? made : winner;
    }

    /**
     * @param index an element index.
     * @return the element's first byte in {@link #buffer()}: {@code index * layout().stride()}.
     * @throws StaleHandleException      if this handle was released.
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code 0..length()-1}.
     */
    public final int elementOffset(final int index)
    {
        checkIndex(index);
        return index * layout.stride();
    }

    /**
     * A new handle to the same slice, for another owner or thread: the seed's {@code clone()}. O(1): one CAS on
     * the slice's reference count and one small object.
     *
     * @return the new handle, to be released on its own.
     * @throws StaleHandleException  if this handle was released.
     * @throws IllegalStateException if the slice already has {@link Integer#MAX_VALUE} holders (handles, references
     *                               and bound readers together): the count never wraps, nothing changes.
     */
    public abstract SharedHandle share();

    /**
     * Drops this handle's reference. When it was the slice's last, the slice's bytes count as free in the
     * stats; when it was the chunk's last reference, the chunk's memory is freed. O(1): a few CASes, no
     * allocation.
     *
     * @throws StaleHandleException if this handle was already released (a double release).
     */
    public final void release()
    {
        final Chunk c = chunk;
        if (c == null || !CHUNK.compareAndSet(this, c, null))
        {
            throw new StaleHandleException(this + " is already released: double release");
        }
        if (c != Chunk.NONE)
        {
            SliceAllocator.releaseSlice(c, offset, (long)length * layout.stride());
        }
    }

    /**
     * Same as {@link #release()}, for try-with-resources.
     *
     * @throws StaleHandleException if this handle was already released.
     */
    @Override
    public final void close()
    {
        release();
    }

    /** Moves this handle's reference out: this handle becomes released, the caller owns the reference. */
    final Chunk transfer(final String to)
    {
        final Chunk c = chunk;
        if (c == null || !CHUNK.compareAndSet(this, c, null))
        {
            throw new StaleHandleException(this + " is released: cannot convert to " + to);
        }
        return c;
    }

    final Chunk shareReference()
    {
        final Chunk c = checkLive();
        if (c != Chunk.NONE)
        {
            SliceAllocator.retainSlice(c, offset);
        }
        return c;
    }

    /**
     * Address of element 0 in chunk {@code c}, the chunk this handle's check just returned (never {@link Chunk#NONE}:
     * an empty slice fails its index check first). Derived rather than stored: a handle is 32 bytes, not 40.
     */
    final long base(final Chunk c)
    {
        return c.memory.address + offset;
    }

    final Chunk checkLive()
    {
        final Chunk c = chunk;
        if (c == null)
        {
            throw new StaleHandleException(this + " is released");
        }
        return c;
    }

    final Chunk checkIndex(final int index)
    {
        final Chunk c = chunk;
        if (c == null)
        {
            throw new StaleHandleException(this + " is released");
        }
        if (index < 0 || index >= length)
        {
            throw new IndexOutOfBoundsException("index " + index + " out of bounds for " + this);
        }
        return c;
    }

    final void checkLayout(final ElementLayout expected)
    {
        if (layout != expected)
        {
            throw new IllegalStateException("cannot read " + expected + " elements from " + this);
        }
    }

    @Override
    public String toString()
    {
        return getClass().getSimpleName() + "[" + length + " x " + layout + (chunk == null ? ", released]" : "]");
    }
}
