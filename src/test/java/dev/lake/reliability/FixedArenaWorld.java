package dev.lake.reliability;

import dev.lake.memory.StaleHandleException;
import dev.lake.pool.ArenaFullException;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.FixedArenaMetrics;
import dev.lake.pool.InitPolicy;
import dev.lake.pool.RequestTooLargeException;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One {@link FixedArena} under test and its model, for {@link FixedArenaModelPropertyTest}: both tiers in one
 * sequence. The model does not know which slot a claim picks; it knows how many are live, every allocation's
 * references, frozen length and pattern, and every counter of {@link FixedArenaMetrics}. After each step every live
 * reference must read exactly its own bytes, every released one must throw, and the metrics must be exact.
 */
final class FixedArenaWorld implements AutoCloseable
{
    static final int SLOTS = 4;
    static final int CAPACITY = 32;

    static final List<FixedArena> OPEN = new ArrayList<>();

    final FixedArena arena;
    final boolean zero;
    final boolean spill;
    final List<Writing> buffers = new ArrayList<>();
    final List<Ref> bytes = new ArrayList<>();
    final List<Slot> handles = new ArrayList<>();
    int live;
    long allocations;
    long failed;
    long frees;
    long frozen;
    long spills;
    boolean closed;
    private byte nextPattern = 1;

    private FixedArenaWorld(final boolean zero, final boolean spill)
    {
        this.zero = zero;
        this.spill = spill;
        arena = FixedArena.builder(SLOTS, CAPACITY).initPolicy(zero ? InitPolicy.ZERO : InitPolicy.UNINIT)
            .autoSpill(spill).build();
        OPEN.add(arena);
    }

    static FixedArenaWorld open(final int config)
    {
        return new FixedArenaWorld((config & 1) != 0, (config & 2) != 0);
    }

    static void closeAll()
    {
        OPEN.forEach(FixedArena::close);
        OPEN.clear();
    }

    /** Closes every arena of the run, then releases what the sequence still held so that the regions go too. */
    @Override
    public void close()
    {
        closeAll();
        bytes.stream().filter(r -> !r.released).forEach(r -> r.real.release());
        buffers.forEach(w -> w.real.close());
        handles.forEach(s -> { while (s.references-- > 0) { arena.release(s.handle); } });
    }

    /** The shared state of one object-tier allocation: how many {@link Bytes} still hold it. */
    static final class Alloc
    {
        final byte pattern;
        final int length;
        final boolean heap;
        int references;

        Alloc(final byte pattern, final int length, final boolean heap)
        {
            this.pattern = pattern;
            this.length = length;
            this.heap = heap;
        }
    }

    /** A buffer still being written (or closed/frozen: then only misuse is tried on it). */
    static final class Writing
    {
        final Buffer real;
        final byte pattern;
        int written;
        boolean spilled;
        boolean done;

        Writing(final Buffer real, final byte pattern)
        {
            this.real = real;
            this.pattern = pattern;
        }
    }

    /** One Bytes reference: its allocation, where it starts in it, its length. */
    static final class Ref
    {
        final Bytes real;
        final Alloc alloc;
        final int offset;
        final int length;
        boolean released;

        Ref(final Bytes real, final Alloc alloc, final int offset, final int length)
        {
            this.real = real;
            this.alloc = alloc;
            this.offset = offset;
            this.length = length;
        }
    }

    /** A handle-tier allocation: references, frozen length (-1 writing), pattern. */
    static final class Slot
    {
        final long handle;
        final byte pattern;
        int references = 1;
        int frozenLength = -1;
        int written;

        Slot(final long handle, final byte pattern)
        {
            this.handle = handle;
            this.pattern = pattern;
        }
    }

    private byte pattern()
    {
        final byte p = nextPattern;
        nextPattern = (byte)(p == 127 ? 1 : p + 1);
        return p;
    }

    private void returned()
    {
        live--;
        frees++;
    }

    // ----------------------------------------------------------------------------------------------- operations

    /** Object tier: form 0 allocate(), 1 tryAllocate(), 2 allocate(minCapacity). */
    void allocate(final int form, final int minCapacity)
    {
        if (closed)
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, arena::allocate);
            assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
            return;
        }
        if (form == 2 && minCapacity <= 0)
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> arena.allocate(minCapacity));
            assertFalse(ex instanceof RequestTooLargeException);
            return;
        }
        if (form == 2 && minCapacity > CAPACITY)
        {
            final RequestTooLargeException ex = assertThrows(RequestTooLargeException.class, () -> arena.allocate(minCapacity));
            assertEquals(minCapacity, ex.requested());
            return;
        }
        if (live == SLOTS)
        {
            failed++;
            if (form == 1)
            {
                assertNull(arena.tryAllocate());
            }
            else
            {
                final ArenaFullException ex = assertThrows(ArenaFullException.class,
                    () -> { final Buffer b = form == 0 ? arena.allocate() : arena.allocate(minCapacity); });
                assertEquals(SLOTS, ex.live());
            }
            return;
        }
        final Buffer b = form == 0 ? arena.allocate() : form == 1 ? arena.tryAllocate() : arena.allocate(minCapacity);
        assertNotNull(b);
        assertEquals(CAPACITY, b.capacity());
        if (zero)
        {
            for (int i = 0; i < CAPACITY; i++)
            {
                assertEquals(0, b.mutableBuffer().getByte(i), "ZERO policy: a fresh slot reads zero");
            }
        }
        live++;
        allocations++;
        buffers.add(new Writing(b, pattern()));
    }

    /** Writes {@code count} bytes of the buffer's pattern at its cursor. */
    void write(final int which, final int count)
    {
        if (buffers.isEmpty())
        {
            return;
        }
        final Writing w = buffers.get(which % buffers.size());
        final byte[] src = new byte[count];
        java.util.Arrays.fill(src, w.pattern);
        if (w.done)
        {
            assertThrows(StaleHandleException.class, () -> w.real.putBytes(src), "write after freeze or close");
            return;
        }
        if (w.written + count > w.real.capacity())
        {
            if (!spill)
            {
                final IndexOutOfBoundsException ex = assertThrows(IndexOutOfBoundsException.class, () -> w.real.putBytes(src));
                assertTrue(ex.getMessage().contains("remaining"), ex.getMessage());
                assertEquals(w.written, w.real.position(), "a refused write writes nothing");
                return;
            }
            if (!w.spilled)
            {
                w.spilled = true;
                spills++;
                returned();
            }
        }
        w.real.putBytes(src);
        w.written += count;
        assertEquals(w.written, w.real.length());
        assertEquals(w.spilled, w.real.isSpilled());
    }

    void freeze(final int which)
    {
        if (buffers.isEmpty())
        {
            return;
        }
        final Writing w = buffers.get(which % buffers.size());
        if (w.done)
        {
            assertThrows(StaleHandleException.class, w.real::freeze, "freeze after freeze or close");
            return;
        }
        final Bytes b = w.real.freeze();
        w.done = true;
        frozen++;
        assertEquals(w.spilled, b.isHeap());
        final Alloc a = new Alloc(w.pattern, w.written, w.spilled);
        a.references = 1;
        bytes.add(new Ref(b, a, 0, w.written));
    }

    void closeBuffer(final int which)
    {
        if (buffers.isEmpty())
        {
            return;
        }
        final Writing w = buffers.get(which % buffers.size());
        w.real.close();
        if (!w.done)
        {
            w.done = true;
            if (!w.spilled)
            {
                returned();
            }
        }
    }

    /** Shares reference {@code which}: {@code retain()}, or {@code slice(offset, length)} when slice is set. */
    void share(final int which, final boolean slice, final int offset, final int length)
    {
        if (bytes.isEmpty())
        {
            return;
        }
        final Ref r = bytes.get(which % bytes.size());
        if (r.released)
        {
            assertThrows(StaleHandleException.class, slice ? () -> r.real.slice(0, 0) : r.real::retain, "share after release");
            return;
        }
        if (slice && (offset > r.length || length > r.length - offset))
        {
            assertThrows(IndexOutOfBoundsException.class, () -> r.real.slice(offset, length));
            return;
        }
        final Bytes b = slice ? r.real.slice(offset, length) : r.real.retain();
        r.alloc.references++;
        bytes.add(slice ? new Ref(b, r.alloc, r.offset + offset, length) : new Ref(b, r.alloc, r.offset, r.length));
    }

    void release(final int which)
    {
        if (bytes.isEmpty())
        {
            return;
        }
        final Ref r = bytes.get(which % bytes.size());
        if (r.released)
        {
            assertThrows(StaleHandleException.class, r.real::release, "double release");
            return;
        }
        r.real.release();
        r.released = true;
        if (--r.alloc.references == 0 && !r.alloc.heap)
        {
            returned();
        }
    }

    void allocateHandle(final boolean tryForm)
    {
        if (closed)
        {
            assertThrows(IllegalStateException.class, arena::allocateHandle);
            return;
        }
        if (live == SLOTS)
        {
            failed++;
            if (tryForm)
            {
                assertEquals(FixedArena.NO_HANDLE, arena.tryAllocateHandle());
            }
            else
            {
                assertThrows(ArenaFullException.class, arena::allocateHandle);
            }
            return;
        }
        final long h = tryForm ? arena.tryAllocateHandle() : arena.allocateHandle();
        assertTrue(arena.isLive(h));
        assertEquals(-1, arena.length(h), "a new handle is writing");
        if (zero)
        {
            for (int i = 0; i < CAPACITY; i++)
            {
                assertEquals(0, arena.getByte(h, i), "ZERO policy: a fresh slot reads zero");
            }
        }
        live++;
        allocations++;
        handles.add(new Slot(h, pattern()));
    }

    /** Handle tier: write {@code count} bytes of the pattern at the start of the slot (may be out of bounds). */
    void writeHandle(final int which, final int count)
    {
        if (handles.isEmpty())
        {
            return;
        }
        final Slot s = handles.get(which % handles.size());
        final byte[] src = new byte[count];
        java.util.Arrays.fill(src, s.pattern);
        if (s.references == 0 || s.frozenLength >= 0)
        {
            assertThrows(StaleHandleException.class, () -> arena.putBytes(s.handle, 0, src, 0, count),
                "write through a released or frozen handle");
            return;
        }
        if (count > CAPACITY)
        {
            assertThrows(IndexOutOfBoundsException.class, () -> arena.putBytes(s.handle, 0, src, 0, count));
            return;
        }
        arena.putBytes(s.handle, 0, src, 0, count);
        s.written = Math.max(s.written, count);
    }

    void freezeHandle(final int which, final int length)
    {
        if (handles.isEmpty())
        {
            return;
        }
        final Slot s = handles.get(which % handles.size());
        if (s.references == 0)
        {
            assertThrows(StaleHandleException.class, () -> arena.freezeHandle(s.handle, length));
        }
        else if (s.frozenLength >= 0)
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> arena.freezeHandle(s.handle, length));
            assertFalse(ex instanceof StaleHandleException);
        }
        else if (length > CAPACITY)
        {
            assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(s.handle, length));
        }
        else
        {
            arena.freezeHandle(s.handle, length);
            s.frozenLength = length;
            frozen++;
        }
    }

    void retainHandle(final int which)
    {
        if (handles.isEmpty())
        {
            return;
        }
        final Slot s = handles.get(which % handles.size());
        if (s.references == 0)
        {
            assertThrows(StaleHandleException.class, () -> arena.retain(s.handle));
        }
        else if (s.frozenLength < 0)
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> arena.retain(s.handle));
            assertFalse(ex instanceof StaleHandleException, "retain before freeze is a state error: " + ex);
        }
        else
        {
            arena.retain(s.handle);
            s.references++;
        }
    }

    void releaseHandle(final int which)
    {
        if (handles.isEmpty())
        {
            return;
        }
        final Slot s = handles.get(which % handles.size());
        if (s.references == 0)
        {
            assertThrows(StaleHandleException.class, () -> arena.release(s.handle), "release of a dead handle");
            return;
        }
        arena.release(s.handle);
        if (--s.references == 0)
        {
            returned();
        }
    }

    void closeArena()
    {
        arena.close();
        closed = true;
    }

    // ------------------------------------------------------------------------------------------------- invariant

    void verify()
    {
        final FixedArenaMetrics m = arena.metrics();
        final boolean freed = closed && live == 0;
        assertEquals(new FixedArenaMetrics(arena.name(), SLOTS, CAPACITY, allocations, failed, frees, frozen, spills, 0,
            freed ? 0 : (long)SLOTS * CAPACITY, (long)live * CAPACITY, live, m.waits()), m, "metrics");
        assertEquals(freed, arena.isRegionFreed(), "the region is freed exactly when closed and empty");
        for (final Ref r : bytes)
        {
            assertEquals(r.released, r.real.isReleased());
            if (r.released)
            {
                assertThrows(StaleHandleException.class, () -> r.real.getByte(0), "read after release");
            }
            else
            {
                assertEquals(r.length, r.real.capacity());
                for (int i = 0; i < r.length; i++)
                {
                    assertEquals(r.alloc.pattern, r.real.getByte(i), "byte " + i + " of live bytes");
                }
                assertThrows(IndexOutOfBoundsException.class, () -> r.real.getByte(r.length), "read past the end");
            }
        }
        for (final Slot s : handles)
        {
            assertEquals(s.references > 0, arena.isLive(s.handle), "handle liveness");
            if (s.references == 0)
            {
                assertThrows(StaleHandleException.class, () -> arena.getByte(s.handle, 0), "read through a dead handle");
                continue;
            }
            assertEquals(s.frozenLength, arena.length(s.handle));
            final int readable = s.frozenLength >= 0 ? Math.min(s.frozenLength, s.written) : s.written;
            for (int i = 0; i < readable; i++)
            {
                assertEquals(s.pattern, arena.getByte(s.handle, i), "byte " + i + " of a live handle");
            }
            final int limit = s.frozenLength >= 0 ? s.frozenLength : CAPACITY;
            assertThrows(IndexOutOfBoundsException.class, () -> arena.getByte(s.handle, limit), "read past the end");
        }
    }
}
