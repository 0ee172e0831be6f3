package dev.lake.reliability;

import dev.lake.linear.Droplet;
import dev.lake.linear.DropletWriter;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeAllocator;
import dev.lake.linear.LakeOverflowException;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeStats;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.memory.StaleHandleException;
import dev.lake.testing.ModelCheck;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static dev.lake.testing.ModelCheck.between;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One lake under test and its reference model, for {@link LakeModelPropertyTest} and {@link EighthLakeFuzzTest}
 * (the one model of the lake; {@link #menu(boolean)} is the one menu of random steps both draw from). Every
 * operation runs on the real lake (or one of its views, sandboxes, droplets, snapshots) and on the model, and
 * asserts that the real outcome is the one the model predicts (the offset returned, or the exception type);
 * {@link #verify()} then compares every observable: position, used, remaining, generation, mark and sandbox
 * depths, stats, validity of every handle ever made, and the bytes of every live allocation.
 *
 * <p>The zeroing promises are checked byte by byte: a zeroing allocator hands out bytes that read zero (every
 * allocation, a view's whole range, a {@code process} writer's whole area, a placement as its wrapper sees it);
 * every rewind of a zeroing allocator (mark, snapshot, sandbox rollback, reset, droplet and view auto-rewind, an
 * undone placement, a wrapper that resets) leaves the bytes it gave back reading zero once the step returns
 * ({@link #pendingWipes}); {@code clear()} wipes everything.
 *
 * <p>The model is deliberately naive: a handle is valid exactly while its allocator is valid and the allocator's
 * position never went below the handle's end since the handle was made (the minimum is tracked per handle, O(n)
 * per rewind); an allocator is valid while the lake is open and its own handle in its parent is valid.
 */
final class LakeWorld implements AutoCloseable
{
    static final int CAPACITY = 4096;

    /** Capacity of the lakes of {@link EighthLakeFuzzTest} (more room for its larger sizes and splits). */
    static final int MIXED_CAPACITY = 8192;

    /** Lakes opened by the current try, closed by the property whatever happens. */
    static final List<Lake> OPEN = new ArrayList<>();

    final Lake lake;
    final UnsafeBuffer buffer;
    final long address;
    final List<Alloc> allocators = new ArrayList<>();
    final List<Handle> handles = new ArrayList<>();
    final List<Sbx> sandboxes = new ArrayList<>();
    /** Ranges a zeroing rewind gave back in the current step: checked to read zero by {@link #verify()}. */
    final List<int[]> pendingWipes = new ArrayList<>();
    boolean closed;
    private byte nextPattern = 1;

    private LakeWorld(final Lake lake, final boolean zeroing)
    {
        this.lake = lake;
        this.buffer = lake.buffer();
        this.address = lake.address();
        allocators.add(new Alloc(lake, null, null, zeroing));
    }

    /** A plain lake of {@link #CAPACITY} bytes ({@code Lake.of}), zeroing off until a step switches it on. */
    static LakeWorld open()
    {
        final Lake lake = Lake.of(CAPACITY);
        OPEN.add(lake);
        return new LakeWorld(lake, false);
    }

    /** A lake built with {@code Lake.builder(capacity).zeroing(zeroing)}. */
    static LakeWorld open(final int capacity, final boolean zeroing)
    {
        final Lake lake = Lake.builder(capacity).zeroing(zeroing).build();
        OPEN.add(lake);
        return new LakeWorld(lake, zeroing);
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

        /** The model of a rewind; with zeroing on, the bytes given back must read zero once the step returned. */
        void rewind(final int to)
        {
            final int from = offset;
            if (to != from)
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
            if (zeroing && from > to)
            {
                pendingWipes.add(new int[] {to, from});
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
        byte pattern;
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
        /** Marks open when it opened: its rollback drops those pushed inside, even at its start. */
        final int marksAtOpen;
        boolean ended;
        boolean committed;

        Sbx(final Alloc owner, final int start, final Sandbox real, final long token)
        {
            this.owner = owner;
            this.marksAtOpen = owner.marks.size();
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
        assertThrows(expected, () -> m.real.process(8, (b, o, c) -> 0), "process on invalid " + m);
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
            assertAllZero(at, length, what + " on zeroing " + m);
        }
    }

    private void assertAllZero(final int at, final int length, final String what)
    {
        for (int i = 0; i < length; i++)
        {
            if (buffer.getByte(at + i) != 0)
            {
                fail(what + ": byte " + (at + i) + " reads " + buffer.getByte(at + i) + ", not 0");
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

    /** A primitive allocation: its bytes get the handle's pattern, checked by {@link #verify()} while it lives. */
    private Handle addPrimitive(final Alloc m, final int from, final int at, final int end)
    {
        final Handle h = add(m, from, at, end);
        h.primitive = true;
        buffer.setMemory(at, end - at, h.pattern);
        return h;
    }

    private Handle addSnapshot(final Alloc m, final LakeSnapshot s)
    {
        assertEquals(m.offset, s.position());
        final Handle h = new Handle(m, m.offset, m.offset, m.offset, (byte)0);
        h.snapshot = s;
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
        addPrimitive(m, from, at, at + size);
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
        addPrimitive(m, from, at, at + count * 8);
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

    /**
     * {@code process}: mode 0 keeps {@code keep}; 1 reports a negative length; 2 writes then throws; 3 writes its
     * whole area then over-reports; 4 takes a snapshot (allowed: it moves nothing) then keeps; 5 pushes a mark
     * (allowed) then keeps.
     */
    void process(final int who, final int keep, final int alignment, final int mode)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            return;
        }
        final int from = m.offset;
        final int at = m.alignUp(from, alignment);
        if (at > m.limit)
        {
            // the aligned start lies past the end: refused as allocate refuses it, the writer not called
            assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, (buf, offset, cap) ->
            {
                throw new AssertionError("process called its writer with the aligned start past the end");
            }));
            assertEquals(from, m.real.position(), "a refused process changes nothing");
            return;
        }
        final int capacity = m.limit - at;
        final byte p = nextPattern;
        final RuntimeException boom = new RuntimeException("writer failed on purpose");
        final LakeSnapshot[] taken = {null};
        final boolean zeroing = m.zeroing;
        final DropletWriter writer = (buf, offset, cap) ->
        {
            assertEquals(at, offset, "process offset");
            assertEquals(capacity, cap, "process capacity");
            if (zeroing)
            {
                assertAllZero(offset, cap, "process under zeroing: the writer's area");
            }
            switch (mode)
            {
                case 1:
                    buf.setMemory(offset, Math.min(keep, cap), p);
                    return -keep - 1;
                case 2:
                    buf.setMemory(offset, Math.min(keep, cap), p);
                    throw boom;
                case 3:
                    buf.setMemory(offset, cap, (byte)0x5E); // a secret over everything it was given
                    return cap + 1;
                case 4:
                    taken[0] = m.real.snapshot();
                    break;
                case 5:
                    m.real.mark();
                    break;
                default:
                    break;
            }
            buf.setMemory(offset, Math.min(keep, cap), p);
            return keep;
        };
        if (mode == 1)
        {
            assertThrows(IllegalArgumentException.class, () -> m.real.process(alignment, writer));
            return;
        }
        if (mode == 2)
        {
            assertSame(boom, assertThrows(RuntimeException.class, () -> m.real.process(alignment, writer)));
            return;
        }
        if (mode == 3)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, writer));
            return;
        }
        if (keep > capacity)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, writer));
        }
        else
        {
            final Droplet d = m.real.process(alignment, writer);
            assertEquals(at, d.offset());
            assertEquals(keep, d.length());
            if (mode == 4)
            {
                addSnapshot(m, taken[0]);
            }
            if (mode == 5)
            {
                m.marks.add(from);
            }
            final Handle h = add(m, from, at, at + keep);
            assertEquals(p, h.pattern);
            h.droplet = d;
            return;
        }
        if (mode == 4)
        {
            addSnapshot(m, taken[0]);
        }
        if (mode == 5)
        {
            m.marks.add(from);
        }
    }

    /**
     * {@code place}: mode 0 a plain wrapper; 1 throws; 2 writes the placement then throws (undone: wiped under
     * zeroing); 3 allocates {@code scratch} bytes above the placement and keeps them; 4 takes a snapshot at the
     * placement's end, allocates {@code scratch} bytes, rewinds to the snapshot (allowed: it stays above).
     */
    void place(final int who, final int size, final int alignment, final int mode, final int scratch)
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
        final int end = at + size;
        final int scratchAt = m.alignUp(end, 8);
        final boolean scratchFits = scratchAt + scratch <= m.limit;
        final LakeSnapshot[] snap = {null};
        final boolean zeroing = m.zeroing;
        final Runnable call = () -> m.real.place(placed, size, alignment, (f, b, o) ->
        {
            f[0] = o;
            if (zeroing)
            {
                assertAllZero(o, size, "place under zeroing");
            }
            switch (mode)
            {
                case 1:
                    throw boom;
                case 2:
                    b.setMemory(o, size, (byte)0x5E);
                    throw boom;
                case 3:
                    m.real.allocate(scratch);
                    break;
                case 4:
                    snap[0] = m.real.snapshot();
                    m.real.allocate(scratch);
                    m.real.rewind(snap[0]);
                    break;
                default:
                    break;
            }
        });
        final boolean fails = mode == 1 || mode == 2 || (mode >= 3 && !scratchFits);
        if (fails)
        {
            final RuntimeException ex = assertThrows(RuntimeException.class, call::run);
            if (mode <= 2)
            {
                assertSame(boom, ex);
            }
            else
            {
                assertInstanceOf(LakeOverflowException.class, ex);
            }
            m.offset = end; // the bump, then the undo's exact rewind
            m.rewind(from);
            return;
        }
        call.run();
        assertEquals(at, placed[0]);
        addPrimitive(m, from, at, end);
        if (mode == 3)
        {
            assertZero(m, scratchAt, scratch, "place's scratch allocation");
            addPrimitive(m, end, scratchAt, scratchAt + scratch);
        }
        else if (mode == 4)
        {
            final Handle s = addSnapshot(m, snap[0]);
            m.offset = scratchAt + scratch;
            m.rewind(s.end);
        }
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
        addSnapshot(m, m.real.snapshot());
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
            assertAllZero(m.start, m.limit - m.start, "clear()");
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
        // a zeroing parent hands the view out as one allocation: all of it reads zero
        assertZero(m, at, length, "split");
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

    /** Droplet.wrap: mode 0 a plain wrapper; 1 a wrapper that resets the droplet's allocator; 2 one that throws. */
    void wrapDroplet(final int which, final int mode)
    {
        final List<Handle> droplets = handles.stream().filter(h -> h.droplet != null).toList();
        if (droplets.isEmpty())
        {
            return;
        }
        final Handle h = droplets.get(Math.floorMod(which, droplets.size()));
        final int[] wrapped = {-1};
        final IllegalArgumentException boom = new IllegalArgumentException("wrapper failed on purpose");
        if (!h.valid())
        {
            assertThrows(StaleHandleException.class, () -> h.droplet.wrap(wrapped, (f, b, o) -> f[0] = o));
            assertEquals(-1, wrapped[0], "a stale droplet's wrapper must not run");
            return;
        }
        switch (mode)
        {
            case 1:
            {
                final Runnable call = () -> h.droplet.wrap(wrapped, (f, b, o) ->
                {
                    f[0] = o;
                    h.owner.real.reset();
                });
                h.owner.rewind(h.owner.start);
                if (h.valid())
                {
                    call.run(); // a zero-length droplet at the start survives the reset
                }
                else
                {
                    assertThrows(StaleHandleException.class, call::run);
                }
                assertEquals(h.at, wrapped[0]);
                break;
            }
            case 2:
                assertSame(boom, assertThrows(IllegalArgumentException.class,
                    () -> h.droplet.wrap(wrapped, (f, b, o) -> { throw boom; })));
                break;
            default:
                h.droplet.wrap(wrapped, (f, b, o) -> f[0] = o);
                assertEquals(h.at, wrapped[0]);
                break;
        }
    }

    /** Writes a fresh pattern over a live droplet (its owner's new secret). */
    void rewrite(final int which)
    {
        final List<Handle> droplets = handles.stream().filter(h -> h.droplet != null && h.valid()).toList();
        if (droplets.isEmpty())
        {
            return;
        }
        final Handle h = droplets.get(Math.floorMod(which, droplets.size()));
        h.pattern = pattern();
        h.droplet.fill(h.pattern);
    }

    void setZeroing(final int who, final boolean on)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            assertThrows(IllegalStateException.class, () -> m.real.setZeroing(on), "setZeroing on invalid " + m);
            assertEquals(m.zeroing, m.real.isZeroing(), "a refused setZeroing changed the switch");
            return;
        }
        assertSame(m.real, m.real.setZeroing(on));
        m.zeroing = on;
    }

    void openSandbox(final int who, final boolean token)
    {
        final Alloc m = pick(who);
        if (refusedBecauseDead(m))
        {
            assertThrows(IllegalStateException.class, m.real::beginSandbox);
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
        final List<Integer> marks = s.owner.marks;
        while (marks.size() > s.marksAtOpen)
        {
            marks.remove(marks.size() - 1);
        }
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
            addPrimitive(m, from, at, at + size);
        }
        assertEquals(m.offset - s.start, s.real.used());
    }

    void closeLake()
    {
        lake.close();
        closed = true;
        pendingWipes.clear();
        assertFalse(lake.isOpen());
        assertEquals(0, lake.buffer().capacity(), "the buffer shrinks to nothing on close");
    }

    private static void assertPlainIllegalState(final Runnable call)
    {
        final IllegalStateException ex = assertThrows(IllegalStateException.class, call::run);
        assertFalse(ex instanceof StaleHandleException, "expected a plain IllegalStateException, got " + ex);
        assertNotNull(ex.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------- steps

    /**
     * The random steps both drivers draw from. {@code mixed} ({@link EighthLakeFuzzTest}): more allocators to pick
     * from, sizes up to 700, alignments up to 256, longer splits, and more weight on process, place, rewinds,
     * splits, droplet closes, zeroing switches and sandboxes; otherwise ({@link LakeModelPropertyTest}) the
     * smaller, denser mix its 4 KiB lake was sized for.
     */
    static ModelCheck.Menu<LakeWorld> menu(final boolean mixed)
    {
        final int whoMax = mixed ? 31 : 15;
        final int alignShift = mixed ? 8 : 7;
        final int more = mixed ? 1 : 0;
        return new ModelCheck.Menu<LakeWorld>()
            .add(4, r ->
            {
                final int w = between(r, 0, whoMax), s = size(r, mixed), a = 1 << between(r, 0, alignShift);
                final boolean t = between(r, 0, 4) == 0;
                return step((t ? "tryAllocate(" + s + ")" : "allocate(" + s + ", " + a + ")") + " on #" + w,
                    x -> x.primitive(w, s, a, t));
            })
            .add(1, r ->
            {
                final int w = between(r, 0, whoMax), n = between(r, 1, 12);
                return step("allocateLongs(" + n + ") on #" + w, x -> x.longs(w, n));
            })
            .add(4, r ->
            {
                final int w = between(r, 0, whoMax), s = size(r, mixed), a = 1 << between(r, 0, alignShift);
                return step("droplet(" + s + ", " + a + ") on #" + w, x -> x.droplet(w, s, a));
            })
            .add(2 + more, r ->
            {
                final int w = between(r, 0, whoMax), k = between(r, 0, 160), a = 1 << between(r, 0, alignShift);
                final int mode = between(r, 0, 5);
                return step("process(keep " + k + ", align " + a + ", mode " + mode + ") on #" + w,
                    x -> x.process(w, k, a, mode));
            })
            .add(1 + more, r ->
            {
                final int w = between(r, 0, whoMax), s = size(r, mixed), a = 1 << between(r, 0, alignShift);
                final int mode = between(r, 0, 4), scratch = between(r, 1, 600);
                return step("place(" + s + ", " + a + ", mode " + mode + ", scratch " + scratch + ") on #" + w,
                    x -> x.place(w, s, a, mode, scratch));
            })
            .add(2, r ->
            {
                final int w = between(r, 0, whoMax);
                return step("mark() on #" + w, x -> x.mark(w));
            })
            .add(2, r ->
            {
                final int w = between(r, 0, whoMax);
                return step("resetToMark() on #" + w, x -> x.resetToMark(w));
            })
            .add(1, r ->
            {
                final int w = between(r, 0, whoMax);
                return step("moveMark() on #" + w, x -> x.moveMark(w));
            })
            .add(2, r ->
            {
                final int w = between(r, 0, whoMax);
                return step("snapshot() on #" + w, x -> x.snapshot(w));
            })
            .add(2 + more, r ->
            {
                final int w = between(r, 0, whoMax), sn = between(r, 0, whoMax);
                return step("rewind(snapshot " + sn + ") on #" + w, x -> x.rewind(w, sn));
            })
            .add(1, r ->
            {
                final int w = between(r, 0, whoMax);
                final boolean clear = between(r, 0, 3) == 0;
                return step((clear ? "clear()" : "reset()") + " on #" + w, x -> x.reset(w, clear));
            })
            .add(2 + more, r ->
            {
                final int w = between(r, 0, whoMax), l = between(r, 16, mixed ? 1200 : 700), a = 1 << between(r, 0, 6);
                return step("split(" + l + ", " + a + ") on #" + w, x -> x.split(w, l, a));
            })
            .add(1, r ->
            {
                final int w = between(r, 0, whoMax);
                return step("close view #" + w, x -> x.closeView(w));
            })
            .add(2 + more, r ->
            {
                final int d = between(r, 0, whoMax);
                return step("close droplet " + d, x -> x.closeDroplet(d));
            })
            .add(1, r ->
            {
                final int d = between(r, 0, whoMax), mode = between(r, 0, 2);
                return step("wrap droplet " + d + " (mode " + mode + ")", x -> x.wrapDroplet(d, mode));
            })
            .add(1, r ->
            {
                final int d = between(r, 0, whoMax);
                return step("rewrite droplet " + d, x -> x.rewrite(d));
            })
            .add(1 + more, r ->
            {
                final int w = between(r, 0, whoMax);
                final boolean on = r.nextBoolean();
                return step("setZeroing(" + on + ") on #" + w, x -> x.setZeroing(w, on));
            })
            .add(2 + more, r ->
            {
                final int w = between(r, 0, whoMax);
                final boolean token = r.nextBoolean();
                return step((token ? "beginSandbox()" : "sandbox()") + " on #" + w, x -> x.openSandbox(w, token));
            })
            .add(3, r ->
            {
                final int sb = between(r, 0, whoMax), a = between(r, 0, 2);
                return step((a == 0 ? "commit" : a == 1 ? "rollback/end" : "close") + " sandbox " + sb,
                    x -> x.endSandbox(sb, a));
            })
            .add(2, r ->
            {
                final int sb = between(r, 0, whoMax), n = size(r, mixed);
                final boolean d = r.nextBoolean();
                return step((d ? "droplet(" : "allocate(") + n + ") through sandbox " + sb, x -> x.allocateInSandbox(sb, n, d));
            })
            .add(1, r -> between(r, 0, mixed ? 40 : 30) == 0 ? step("close the lake", LakeWorld::closeLake) :
                step("verify", x -> { }));
    }

    private static int size(final SplittableRandom r, final boolean mixed)
    {
        return mixed && between(r, 0, 5) == 0 ? between(r, 97, 700) : between(r, 1, 96);
    }

    private static ModelCheck.Step<LakeWorld> step(final String description, final ModelCheck.Body<LakeWorld> body)
    {
        return ModelCheck.step(description, body, LakeWorld::verify);
    }

    // ------------------------------------------------------------------------------------------------- invariant

    /** Compares every observable of the real lake with the model, and checks the step's zeroing rewinds wiped. */
    void verify()
    {
        if (!closed)
        {
            for (final int[] wipe : pendingWipes)
            {
                assertAllZero(wipe[0], wipe[1] - wipe[0], "a zeroing rewind from " + wipe[1] + " to " + wipe[0]);
            }
        }
        pendingWipes.clear();
        for (final Alloc m : allocators)
        {
            final boolean alive = m.alive();
            assertEquals(alive, m.real.isValid(), "validity of " + m);
            assertEquals(m.zeroing, m.real.isZeroing(), "zeroing of " + m);
            if (alive)
            {
                assertEquals(m.offset, m.real.position(), "position of " + m);
                assertEquals(new LakeStats(m.offset - m.start, m.limit - m.offset, m.limit - m.start, m.generation,
                    m.marks.size(), m.open.size()), m.real.stats(), "stats of " + m);
            }
            else
            {
                assertEquals(0, m.real.used());
                assertEquals(0, m.real.remaining());
                assertEquals(0, m.real.openSandboxes());
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
