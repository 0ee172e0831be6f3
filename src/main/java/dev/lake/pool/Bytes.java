package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

/**
 * Immutable, shared bytes frozen from a {@link Buffer}: a read-only Agrona {@link org.agrona.DirectBuffer}
 * over exactly the bytes written, with no copy (index 0 is the first byte, {@link #capacity()} is the length).
 *
 * <p>Ownership: each {@code Bytes} object is one reference to its slot. {@link #retain()} and
 * {@link #slice(int, int)} return new {@code Bytes} holding one more reference; {@link #release()} (or
 * {@link #close()}) drops this object's reference, exactly once; when the last reference of a slot is dropped
 * the slot returns to its arena (zeroed first under {@link InitPolicy#ZERO}), even if the arena was closed
 * meanwhile (the arena's region is freed with its last slot).
 *
 * <p>Checks: every read checks first that this object has not been released, then its bounds, with Lake's
 * own checks (independent of Agrona's bounds-check setting). A released {@code Bytes} throws
 * {@link StaleHandleException} on every read, even while other references keep the slot alive, and can
 * never see the bytes of a later allocation of the same slot. There are no write methods; every
 * {@code wrap} throws {@link UnsupportedOperationException}; {@link #byteBuffer()} is {@code null}.
 * {@link #addressOffset()} and {@link #byteArray()} exist for Agrona's copy routines: writing through that
 * raw address is outside Lake's checks.
 *
 * <p>Threads: reads, {@code retain}, {@code slice} and {@code release} are safe from any thread; a reference
 * must not be released by one thread while another still reads through it (give that thread its own
 * {@code retain()}).
 *
 * <p>Cost: a read is one field check and one bounds compare on top of Agrona's access; {@code retain} and
 * {@code slice} are one CAS and one small object; {@code release} is two CAS (this object, the slot), and the
 * last gives the slot back as the arena's {@code release(long)} says (one more atomic in the common case; a buddy
 * arena's coalesce takes its lock; waiting requests are served on the releasing thread).
 */
public final class Bytes extends CheckedReads implements AutoCloseable
{
    private static final VarHandle RELEASED;

    static
    {
        try
        {
            RELEASED = MethodHandles.lookup().findVarHandle(Bytes.class, "released", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** The allocation (its buffer) this view shares; {@code null} for heap bytes (spilled or copied). */
    private final Buffer lease;
    private final UnsafeBuffer mem;
    private final int base;
    private final int length;
    @SuppressWarnings("unused") // written through RELEASED
    private int released;

    Bytes(final Buffer lease, final UnsafeBuffer mem, final int base, final int length)
    {
        this.lease = lease;
        this.mem = mem;
        this.base = base;
        this.length = length;
    }

    /** As {@link Buffer#linkCallSites()}, for this class's calls (the last step of {@link #release()} is one). */
    static void linkCallSites()
    {
        Reference.reachabilityFence(null);
    }

    @Override
    UnsafeBuffer mem()
    {
        return mem;
    }

    @Override
    int origin()
    {
        return base;
    }

    @Override
    int limit()
    {
        return length;
    }

    @Override
    void checkLive(final String action)
    {
        if (released != 0)
        {
            throw new StaleHandleException(this + ": cannot " + action + ": this reference was released");
        }
    }

    /**
     * @return the number of bytes; the same as {@link #capacity()}.
     */
    public int length()
    {
        return length;
    }

    /**
     * @return whether this reference has been released (other references may still hold the slot).
     */
    public boolean isReleased()
    {
        return (int)RELEASED.getVolatile(this) != 0;
    }

    /**
     * @return whether the bytes live on the heap (a spilled buffer or a {@link #heapCopy()}) rather than in an
     *     arena slot.
     */
    public boolean isHeap()
    {
        return lease == null;
    }

    /**
     * Adds a reference: the returned object reads the same bytes and must be released on its own. O(1): one
     * CAS and one small object.
     *
     * @return a new reference to the same bytes.
     * @throws StaleHandleException  if this reference was released.
     * @throws IllegalStateException if the slot already holds the most references one slot can count
     *                               (2<sup>27</sup> - 1); nothing changes.
     */
    public Bytes retain()
    {
        checkLive("retain");
        // the object first: an OutOfMemoryError after the slot's count rose would leave a reference nobody holds
        final Bytes copy = new Bytes(lease, mem, base, length);
        if (lease != null)
        {
            lease.source.retain(lease.slot, lease.generation);
        }
        return copy;
    }

    /**
     * A new reference to {@code [offset, offset + length)} of these bytes, sharing the slot (no copy). O(1).
     *
     * @param offset first byte of the slice, relative to these bytes.
     * @param length bytes in the slice.
     * @return the slice; release it on its own.
     * @throws StaleHandleException      if this reference was released.
     * @throws IndexOutOfBoundsException if the range is not inside these bytes.
     * @throws IllegalStateException     if the slot already holds the most references one slot can count
     *                                   (2<sup>27</sup> - 1); nothing changes.
     */
    public Bytes slice(final int offset, final int length)
    {
        checkLive("slice");
        if (offset < 0 || length < 0 || offset > this.length - length)
        {
            throw new IndexOutOfBoundsException(this + ": cannot slice offset=" + offset + " length=" + length);
        }
        final Bytes slice = new Bytes(lease, mem, base + offset, length); // first, as in retain()
        if (lease != null)
        {
            lease.source.retain(lease.slot, lease.generation);
        }
        return slice;
    }

    /**
     * Drops this reference; the last reference of a slot returns it to its arena, at the cost the arena's
     * {@code release(long)} gives (O(1) on a fixed arena, O(orders) for a buddy arena's coalesce under its lock; plus
     * zeroing under {@link InitPolicy#ZERO}, and serving requests that wait for capacity on this thread).
     *
     * @throws StaleHandleException if this reference was already released (a double release); nothing changes.
     */
    public void release()
    {
        if (!RELEASED.compareAndSet(this, 0, 1))
        {
            throw new StaleHandleException(this + ": already released: double release");
        }
        final Buffer lease = this.lease;
        if (lease != null)
        {
            lease.source.release(lease.slot, lease.generation, lease.dirty());
            Reference.reachabilityFence(lease);
        }
    }

    /**
     * Same as {@link #release()}, for try-with-resources.
     *
     * @throws StaleHandleException if this reference was already released.
     */
    @Override
    public void close()
    {
        release();
    }

    /**
     * Copies the bytes out to a new array, for callers that want to let go of arena memory. O(n).
     *
     * @return a new array of {@link #length()} bytes.
     * @throws StaleHandleException if this reference was released.
     */
    public byte[] toByteArray()
    {
        // before the array: a released reference to a large allocation threw OutOfMemoryError (or took the heap)
        checkLive("copy");
        final byte[] copy = new byte[length];
        try
        {
            mem.getBytes(readAt(0, length), copy, 0, length);
        }
        finally
        {
            // callers often drop these bytes right after the copy: the safety net must not reclaim mid-copy
            Reference.reachabilityFence(this);
        }
        return copy;
    }

    /**
     * Copies the bytes into new heap-backed {@code Bytes} that hold no arena memory: release this reference
     * afterwards and the slot can go back. O(n).
     *
     * @return independent heap bytes with the same contents.
     * @throws StaleHandleException if this reference was released.
     */
    public Bytes heapCopy()
    {
        return new Bytes(null, new UnsafeBuffer(toByteArray()), 0, length);
    }

    @Override
    public String toString()
    {
        return "Bytes[" + length + " B, " + (lease == null ? "heap" : lease.source.name() + " slot " + lease.slot) +
            ((int)RELEASED.getOpaque(this) != 0 ? ", released]" : "]");
    }
}
