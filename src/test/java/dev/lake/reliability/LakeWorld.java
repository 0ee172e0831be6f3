package dev.lake.reliability;

import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeAllocator;
import dev.lake.linear.LakeOverflowException;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeStats;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One lake under test and its reference model, for {@link LakeModelPropertyTest}. Every operation runs on the real
 * lake (or one of its views, sandboxes, droplets, snapshots) and on the model, and asserts that the real outcome is
 * the one the model predicts (the offset returned, or the exception type); {@link #verify()} then compares every
 * observable: position, used, remaining, generation, mark and sandbox depths, stats, validity of every handle ever
 * made, and the bytes of every live allocation.
 *
 * <p>The model is deliberately naive: a handle is valid exactly while its allocator is valid and the allocator's
 * position never went below the handle's end since the handle was made (the minimum is tracked per handle, O(n)
 * per rewind); an allocator is valid while the lake is open and its own handle in its parent is valid.
 */
final class LakeWorld implements AutoCloseable
{
    static final int CAPACITY = 4096;

    /** Lakes opened by the current try, closed by the property whatever happens. */
    static final List<Lake> OPEN = new ArrayList<>();

    final Lake lake;
    final UnsafeBuffer buffer;
    final long address;
    final List<Alloc> allocators = new ArrayList<>();
    final List<Handle> handles = new ArrayList<>();
    final List<Sbx> sandboxes = new ArrayList<>();
    boolean closed;
    private byte nextPattern = 1;

    private LakeWorld(final Lake lake)
    {
        this.lake = lake;
        this.buffer = lake.buffer();
        this.address = lake.address();
        allocators.add(new Alloc(lake, null, null, false));
    }

    static LakeWorld open()
    {
        final Lake lake = Lake.of(CAPACITY);
        OPEN.add(lake);
        return new LakeWorld(lake);
    }

    static void closeAll()
    {
        OPEN.forEach(Lake::close);
        OPEN.clear();
    }

    /** Closes everything the run opened. */
    @Override
    public void close()
    {
        closeAll();
    }

    // ---------------------------------------------------------------------------------------------------- model

    /** Model of the lake or a view. */
    final class Alloc
    {
        final LakeAllocator real;
        final Alloc parent;
        final Handle self;
        final int start;
        final int limit;
        final List<Integer> marks = new ArrayList<>();
        final List<Sbx> open = new ArrayList<>();
        final List<Handle> owned = new ArrayList<>();
        int offset;
        long generation;
        boolean zeroing;

        Alloc(final LakeAllocator real, final Alloc parent, final Handle self, final boolean zeroing)
        {
            this.real = real;
            this.parent = parent;
            this.self = self;
            this.start = real.start();
            this.limit = real.limit();
            this.offset = start;
            this.zeroing = zeroing;
        }

        boolean alive()
        {
            return parent == null ? !closed : parent.alive() && self.valid();
        }

        void rewind(final int to)
        {
            if (to != offset)
            {
                generation++;
            }
            offset = to;
            marks.removeIf(m -> m > to);
            open.removeIf(s -> s.start > to);
            for (final Handle h : owned)
            {
                h.minSince = Math.min(h.minSince, to);
            }
        }

        /** The auto-rewind of a droplet or view that began at {@code from} and ends at {@code end}. */
        boolean releaseIfLast(final int from, final int end)
        {
            if (end != offset || marks.stream().anyMatch(m -> m > from) || open.stream().anyMatch(s -> s.start > from))
            {
                return false;
            }
            rewind(from);
            return true;
        }

        int alignUp(final int from, final int alignment)
        {
            return (int)(((address + from + alignment - 1) & -(long)alignment) - address);
        }

        @Override
        public String toString()
        {
            return (parent == null ? "lake" : "view") + "[" + start + ".." + limit + "]";
        }
    }

    /** A droplet, a primitive allocation, a snapshot or a view's range: valid while minSince >= end. */
    static final class Handle
    {
        final Alloc owner;
        final int from;
        final int at;
        final int end;
        final byte pattern;
        int minSince;
        Droplet droplet;
        LakeSnapshot snapshot;
        Alloc view;
        boolean primitive;

        Handle(final Alloc owner, final int from, final int at, final int end, final byte pattern)
        {
            this.owner = owner;
            this.from = from;
            this.at = at;
            this.end = end;
            this.pattern = pattern;
            this.minSince = end;
        }

        boolean valid()
        {
            return owner.alive() && minSince >= end;
        }
    }

    /** A sandbox, as an object or as a primitive token. */
    static final class Sbx
    {
        final Alloc owner;
        final int start;
        final Sandbox real;
        final long token;
        boolean ended;
        boolean committed;

        Sbx(final Alloc owner, final int start, final Sandbox real, final long token)
        {
            this.owner = owner;
            this.start = start;
            this.real = real;
            this.token = token;
        }

        boolean open()
        {
            return owner.alive() && owner.open.contains(this);
        }

        boolean innermost()
        {
            return owner.open.get(owner.open.size() - 1) == this;
        }
    }

    // ----------------------------------------------------------------------------------------------- operations

    Alloc pick(final int who)
    {
        return allocators.get(Math.floorMod(who, allocators.size()));
    }

    /** An operation on an invalid allocator: must throw the right exception and change nothing. */
    private boolean refusedBecauseDead(final Alloc m)
    {
        if (m.alive())
        {
            return false;
        }
        final Class<? extends RuntimeException> expected = m.parent == null ? IllegalStateException.class :
            StaleHandleException.class;
        assertThrows(expected, () -> m.real.allocate(8), "allocate on invalid " + m);
        assertThrows(expected, m.real::mark, "mark on invalid " + m);
        assertThrows(expected, m.real::snapshot, "snapshot on invalid " + m);
        assertThrows(expected, m.real::sandbox, "sandbox on invalid " + m);
        assertThrows(expected, () -> m.real.split(16), "split on invalid " + m);
        return true;
    }

    private byte pattern()
    {
        final byte p = nextPattern;
        nextPattern = (byte)(p == 127 ? 1 : p + 1);
        return p;
    }

    private void assertZero(final Alloc m, final int at, final int length, final String what)
    {
        if (m.zeroing)
        {
            for (int i = 0; i < length; i++)
            {
                assertEquals(0, buffer.getByte(at + i), what + ": zeroing allocator handed out a dirty byte at " + (at + i));
            }
        }
    }

    private Handle add(final Alloc m, final int from, final int at, final int end)
    {
        final Handle h = new Handle(m, from, at, end, pattern());
        m.offset = end;
        m.owned.add(h);
        handles.add(h);
        return h;
    }

    /** Primitive allocation: {@code allocate(size, alignment)}, or {@code tryAllocate(size)} when try is set. */
    void primitive(final int who, final int size, final int alignment, final boolean tryForm)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int align = tryForm ? LakeAllocator.DEFAULT_ALIGNMENT : alignment;
        final int from = m.offset;
        final int at = m.alignUp(from, align);
        if (at + size > m.limit)
        {
            if (tryForm)
            {
                assertEquals(LakeAllocator.NO_SPACE, m.real.tryAllocate(size));
            }
            else
            {
                final LakeOverflowException ex = assertThrows(LakeOverflowException.class, () -> m.real.allocate(size, align));
                assertEquals(size, ex.requested());
            }
            return;
        }
        final int got = tryForm ? m.real.tryAllocate(size) : m.real.allocate(size, align);
        assertEquals(at, got, "offset of the allocation");
        assertZero(m, at, size, "allocate");
        final Handle h = add(m, from, at, at + size);
        h.primitive = true;
        buffer.setMemory(at, size, h.pattern);
    }

    void longs(final int who, final int count)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, Long.BYTES);
        if (at + count * 8 > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.allocateLongs(count));
            return;
        }
        assertEquals(at, m.real.allocateLongs(count));
        assertZero(m, at, count * 8, "allocateLongs");
        final Handle h = add(m, from, at, at + count * 8);
        h.primitive = true;
        buffer.setMemory(at, count * 8, h.pattern);
    }

    void droplet(final int who, final int size, final int alignment)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, alignment);
        if (at + size > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.droplet(size, alignment));
            return;
        }
        final Droplet d = m.real.droplet(size, alignment);
        assertEquals(at, d.offset());
        assertEquals(size, d.length());
        assertZero(m, at, size, "droplet");
        final Handle h = add(m, from, at, at + size);
        h.droplet = d;
        d.fill(h.pattern);
    }

    /** {@code process}: mode 0 keeps {@code keep} bytes, 1 reports a negative length, 2 throws after writing. */
    void process(final int who, final int keep, final int alignment, final int mode)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = Math.min(m.alignUp(from, alignment), m.limit);
        final int capacity = m.limit - at;
        final byte p = nextPattern;
        final boolean[] clean = {true};
        final RuntimeException boom = new RuntimeException("writer failed on purpose");
        final dev.lake.linear.DropletWriter writer = (buf, offset, cap) ->
        {
            assertEquals(at, offset, "process offset");
            assertEquals(capacity, cap, "process capacity");
            if (m.zeroing)
            {
                for (int i = 0; i < Math.min(cap, 64); i++)
                {
                    clean[0] &= buf.getByte(offset + i) == 0;
                }
            }
            buf.setMemory(offset, Math.min(keep, cap), p);
            if (mode == 2)
            {
                throw boom;
            }
            return mode == 1 ? -keep - 1 : keep;
        };
        if (mode == 1)
        {
            assertThrows(IllegalArgumentException.class, () -> m.real.process(alignment, writer));
        }
        else if (mode == 2)
        {
            assertSame(boom, assertThrows(RuntimeException.class, () -> m.real.process(alignment, writer)));
        }
        else if (keep > capacity)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, writer));
        }
        else
        {
            final Droplet d = m.real.process(alignment, writer);
            assertEquals(at, d.offset());
            assertEquals(keep, d.length());
            final Handle h = add(m, from, at, at + keep);
            assertEquals(p, h.pattern);
            h.droplet = d;
        }
        assertTrue(clean[0], "process under zeroing handed the writer dirty memory");
    }

    /** {@code place} with a wrapper that succeeds, or throws (then the allocation must be undone). */
    void place(final int who, final int size, final int alignment, final boolean fail)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, alignment);
        final int[] placed = {-1};
        final RuntimeException boom = new RuntimeException("wrapper failed on purpose");
        if (at + size > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.place(placed, size, alignment, (f, b, o) -> f[0] = o));
            return;
        }
        if (fail)
        {
            assertSame(boom, assertThrows(RuntimeException.class,
                () -> m.real.place(placed, size, alignment, (f, b, o) -> { throw boom; })));
            m.offset = at + size; // the bump, then the undo's exact rewind (counted in the generation)
            m.rewind(from);
            return;
        }
        m.real.place(placed, size, alignment, (f, b, o) -> f[0] = o);
        assertEquals(at, placed[0]);
        assertZero(m, at, size, "place");
        final Handle h = add(m, from, at, at + size);
        h.primitive = true;
        buffer.setMemory(at, size, h.pattern);
    }

    void mark(final int who)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        m.real.mark();
        m.marks.add(m.offset);
    }

    void resetToMark(final int who)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        if (m.marks.isEmpty())
        {
            assertEquals(IllegalStateException.class, assertThrows(IllegalStateException.class, m.real::resetToMark).getClass());
            return;
        }
        m.real.resetToMark();
        m.rewind(m.marks.remove(m.marks.size() - 1));
    }

    void moveMark(final int who)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        if (m.marks.isEmpty())
        {
            assertThrows(IllegalStateException.class, m.real::moveMark);
            return;
        }
        m.real.moveMark();
        m.marks.set(m.marks.size() - 1, m.offset);
    }

    void snapshot(final int who)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final LakeSnapshot s = m.real.snapshot();
        assertEquals(m.offset, s.position());
        final Handle h = new Handle(m, m.offset, m.offset, m.offset, (byte)0);
        h.snapshot = s;
        m.owned.add(h);
        handles.add(h);
    }

    /** Rewinds allocator {@code who} to snapshot number {@code which} of the world (possibly another allocator's). */
    void rewind(final int who, final int which)
    {
        final Alloc m = pick(who);
        final List<Handle> snapshots = handles.stream().filter(h -> h.snapshot != null).toList();
        if (refusedBecauseDead(m) || snapshots.isEmpty())
        {
            return;
        }
        final Handle h = snapshots.get(Math.floorMod(which, snapshots.size()));
        if (h.owner != m)
        {
            assertThrows(IllegalArgumentException.class, () -> m.real.rewind(h.snapshot), "foreign snapshot");
        }
        else if (!h.valid())
        {
            assertThrows(StaleHandleException.class, () -> m.real.rewind(h.snapshot), "stale snapshot");
        }
        else
        {
            m.real.rewind(h.snapshot);
            m.rewind(h.end);
        }
    }

    void reset(final int who, final boolean clear)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        if (clear)
        {
            m.real.clear();
            m.rewind(m.start);
            for (int i = m.start; i < m.limit; i += 97)
            {
                assertEquals(0, buffer.getByte(i), "clear() wipes the allocator");
            }
        }
        else
        {
            m.real.reset();
            m.rewind(m.start);
        }
    }

    void split(final int who, final int length, final int alignment)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, alignment);
        if (at + length > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.split(length, alignment));
            return;
        }
        final LakeView view = m.real.split(length, alignment);
        assertEquals(at, view.start());
        assertEquals(at + length, view.limit());
        assertEquals(m.zeroing, view.isZeroing(), "a view inherits zeroing");
        final Handle h = new Handle(m, from, at, at + length, (byte)0);
        m.offset = at + length;
        m.owned.add(h);
        handles.add(h);
        h.view = new Alloc(view, m, h, m.zeroing);
        allocators.add(h.view);
    }

    void closeView(final int who)
    {
        final Alloc m = pick(who);
        if (!(m.real instanceof LakeView view))
        {
            return;
        }
        final boolean alive = m.alive();
        view.close();
        if (alive)
        {
            m.rewind(m.start);
            m.parent.releaseIfLast(m.self.from, m.self.end);
        }
    }

    void closeDroplet(final int which)
    {
        final List<Handle> droplets = handles.stream().filter(h -> h.droplet != null).toList();
        if (droplets.isEmpty())
        {
            return;
        }
        final Handle h = droplets.get(Math.floorMod(which, droplets.size()));
        final boolean valid = h.valid();
        h.droplet.close();
        if (valid)
        {
            h.owner.releaseIfLast(h.from, h.end);
        }
    }

    void setZeroing(final int who, final boolean on)
    {
        final Alloc m = pick(who);
        m.real.setZeroing(on);
        m.zeroing = on;
    }

    void openSandbox(final int who, final boolean token)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final Sbx s = token ? new Sbx(m, m.offset, null, m.real.beginSandbox()) : new Sbx(m, m.offset, m.real.sandbox(), 0);
        if (s.real != null)
        {
            assertEquals(m.offset, s.real.start());
        }
        m.open.add(s);
        sandboxes.add(s);
    }

    /** Ends sandbox {@code which}: action 0 commit, 1 roll back (objects) or end (tokens), 2 close. */
    void endSandbox(final int which, final int action)
    {
        if (sandboxes.isEmpty())
        {
            return;
        }
        final Sbx s = sandboxes.get(Math.floorMod(which, sandboxes.size()));
        final boolean open = s.open();
        final boolean innermost = open && s.innermost();
        if (s.real == null)
        {
            endToken(s, action == 0, open, innermost);
            return;
        }
        if (action == 2)
        {
            if (s.ended)
            {
                s.real.close();
            }
            else if (!open)
            {
                s.real.close();
                s.ended = true;
            }
            else if (!innermost)
            {
                assertPlainIllegalState(s.real::close);
            }
            else
            {
                s.real.close();
                rollBack(s);
            }
            return;
        }
        final Runnable call = action == 0 ? s.real::commit : s.real::rollback;
        if (s.ended)
        {
            assertPlainIllegalState(call::run);
        }
        else if (!open)
        {
            assertThrows(StaleHandleException.class, call::run);
        }
        else if (!innermost)
        {
            assertPlainIllegalState(call::run);
        }
        else
        {
            call.run();
            if (action == 0)
            {
                s.owner.open.remove(s);
                s.ended = true;
                s.committed = true;
            }
            else
            {
                rollBack(s);
            }
        }
    }

    private void endToken(final Sbx s, final boolean commit, final boolean open, final boolean innermost)
    {
        final LakeAllocator real = s.owner.real;
        if (commit)
        {
            if (!open)
            {
                assertThrows(StaleHandleException.class, () -> real.commitSandbox(s.token));
            }
            else if (!innermost)
            {
                assertPlainIllegalState(() -> real.commitSandbox(s.token));
            }
            else
            {
                real.commitSandbox(s.token);
                s.owner.open.remove(s);
            }
        }
        else if (open && !innermost)
        {
            assertPlainIllegalState(() -> real.endSandbox(s.token));
        }
        else
        {
            real.endSandbox(s.token);
            if (open)
            {
                rollBack(s);
            }
        }
    }

    private static void rollBack(final Sbx s)
    {
        s.owner.open.remove(s);
        s.owner.rewind(s.start);
        s.ended = true;
    }

    /** Allocates through sandbox {@code which}: a droplet when {@code droplet}, else a primitive allocation. */
    void allocateInSandbox(final int which, final int size, final boolean droplet)
    {
        final List<Sbx> objects = sandboxes.stream().filter(s -> s.real != null).toList();
        if (objects.isEmpty())
        {
            return;
        }
        final Sbx s = objects.get(Math.floorMod(which, objects.size()));
        final Alloc m = s.owner;
        if (s.ended)
        {
            assertPlainIllegalState(() -> s.real.allocate(size));
            return;
        }
        if (!s.open())
        {
            assertThrows(StaleHandleException.class, () -> s.real.allocate(size));
            return;
        }
        if (!s.innermost())
        {
            assertPlainIllegalState(() -> s.real.droplet(size));
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, LakeAllocator.DEFAULT_ALIGNMENT);
        if (at + size > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> s.real.allocate(size));
            return;
        }
        if (droplet)
        {
            final Droplet d = s.real.droplet(size);
            assertEquals(at, d.offset());
            assertZero(m, at, size, "sandbox droplet");
            final Handle h = add(m, from, at, at + size);
            h.droplet = d;
            d.fill(h.pattern);
        }
        else
        {
            assertEquals(at, s.real.allocate(size));
            assertZero(m, at, size, "sandbox allocate");
            final Handle h = add(m, from, at, at + size);
            h.primitive = true;
            buffer.setMemory(at, size, h.pattern);
        }
        assertEquals(m.offset - s.start, s.real.used());
    }

    void closeLake()
    {
        lake.close();
        closed = true;
        assertFalse(lake.isOpen());
        assertEquals(0, lake.buffer().capacity(), "the buffer shrinks to nothing on close");
    }

    private static void assertPlainIllegalState(final Runnable call)
    {
        final IllegalStateException ex = assertThrows(IllegalStateException.class, call::run);
        assertFalse(ex instanceof StaleHandleException, "expected a plain IllegalStateException, got " + ex);
        assertNotNull(ex.getMessage());
    }

    // ------------------------------------------------------------------------------------------------- invariant

    /** Compares every observable of the real lake with the model. */
    void verify()
    {
        for (final Alloc m : allocators)
        {
            final boolean alive = m.alive();
            assertEquals(alive, m.real.isValid(), "validity of " + m);
            if (alive)
            {
                assertEquals(m.offset, m.real.position(), "position of " + m);
                assertEquals(new LakeStats(m.offset - m.start, m.limit - m.offset, m.limit - m.start, m.generation,
                    m.marks.size(), m.open.size()), m.real.stats(), "stats of " + m);
                assertEquals(m.zeroing, m.real.isZeroing());
            }
            else
            {
                assertEquals(0, m.real.used());
                assertEquals(0, m.real.remaining());
            }
        }
        for (final Handle h : handles)
        {
            final boolean valid = h.valid();
            final int length = h.end - h.at;
            if (h.droplet != null)
            {
                assertEquals(valid, h.droplet.isValid(), "validity of " + h.droplet);
                if (valid)
                {
                    final byte[] expected = new byte[length];
                    Arrays.fill(expected, h.pattern);
                    assertArrayEquals(expected, h.droplet.toByteArray(), "bytes of live " + h.droplet);
                }
                else
                {
                    assertThrows(StaleHandleException.class, () -> h.droplet.getByte(0), "read of stale droplet");
                    assertThrows(StaleHandleException.class, () -> h.droplet.putByte(0, (byte)1), "write of stale droplet");
                }
            }
            else if (h.primitive && valid)
            {
                for (int i = h.at; i < h.end; i++)
                {
                    assertEquals(h.pattern, buffer.getByte(i), "byte " + i + " of a live primitive allocation");
                }
            }
        }
        for (final Sbx s : sandboxes)
        {
            if (s.real != null)
            {
                assertEquals(!s.ended && s.open(), s.real.isOpen(), "sandbox open");
                assertEquals(s.committed, s.real.isCommitted(), "sandbox committed");
            }
        }
    }
}
