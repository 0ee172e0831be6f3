package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Random sequences of every lake operation that creates handles or moves a position back, on a lake and nested
 * views, checked step by step against a brute-force model: a handle (droplet, zero-length droplet, snapshot, view)
 * is valid exactly when its allocator's position never went below its end since it was made and its allocator is
 * valid (a view: its lake open and its own handle in its parent valid, recursively). Every valid droplet's bytes
 * must still hold the pattern written when it was made, so no allocation ever overlaps live memory.
 *
 * <p>It drives the epoch stack's corners on purpose (renewed epochs, DROPPED ids, droplets checked by birth
 * generation, snapshots joining the epoch beneath, the releaseIfLast fast path, the view stamp bumped only up to
 * viewTop): droplet(size) on the bump8 fast path and droplet(size, alignment), tryAllocate with and without
 * alignment, marks, snapshots (checked every step, not only when rewound to; foreign ones refused), reset, clear,
 * process() (kept lengths including 0, every failure mode, a writer that allocates), place() undone after a wrapper
 * that allocated, marked, opened a sandbox or reset, zeroing switched on and off (a fresh droplet must read zero),
 * sandbox tokens next to sandbox objects, the last droplet or view closed far more often, and the lake closed at
 * the end. Scale with -Dreview.seeds=N -Dreview.steps=M. The shrinking property test over the same operations is
 * {@code dev.lake.reliability.LakeModelPropertyTest}.
 */
class LakeModelTest
{
    private static final int SEEDS = Integer.getInteger("review.seeds", 30);
    private static final int STEPS = Integer.getInteger("review.steps", 2_500);
    private static final int TRACE = Integer.getInteger("review.trace", 0);

    private static final class Model
    {
        final LakeAllocator real;
        final Model parent;
        final Handle self;
        final int start;
        final int limit;
        int offset;
        boolean zeroing;
        final List<Integer> marks = new ArrayList<>();
        final List<Sb> sandboxes = new ArrayList<>();
        final List<Handle> handles = new ArrayList<>();

        Model(final LakeAllocator real, final Model parent, final Handle self, final boolean zeroing)
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
            return parent == null || parent.alive() && self.valid();
        }

        void rewind(final int to)
        {
            assertTrue(to <= offset, "model rewinds back only");
            offset = to;
            marks.removeIf(m -> m > to);
            sandboxes.removeIf(s -> s.start > to);
            for (final Handle h : handles)
            {
                h.minSince = Math.min(h.minSince, to);
            }
        }

        /** A sandbox's rollback: the rewind to its start, and the marks pushed inside it dropped. */
        void rollBack(final Sb s)
        {
            rewind(s.start);
            while (marks.size() > s.marksAtOpen)
            {
                marks.remove(marks.size() - 1);
            }
        }
    }

    private static final class Handle
    {
        final Model owner;
        final int from;
        final int end;
        final byte pattern;
        int minSince;
        Droplet droplet;
        LakeSnapshot snapshot;
        Model view;

        Handle(final Model owner, final int from, final int end, final byte pattern)
        {
            this.owner = owner;
            this.from = from;
            this.end = end;
            this.pattern = pattern;
            this.minSince = Integer.MAX_VALUE;
        }

        boolean valid()
        {
            return owner.alive() && minSince >= end;
        }
    }

    private static final class Sb
    {
        final Model owner;
        final int start;
        final Sandbox real;
        final long token;
        /** Marks open when it opened: its rollback drops those pushed inside, even at its start. */
        final int marksAtOpen;
        boolean ended;

        Sb(final Model owner, final int start, final Sandbox real, final long token)
        {
            this.owner = owner;
            this.marksAtOpen = owner.marks.size();
            this.start = start;
            this.real = real;
            this.token = token;
        }
    }

    /** Everything of one run. */
    private static final class Run
    {
        final Random random;
        final Lake lake;
        final List<Model> allocators = new ArrayList<>();
        final List<Handle> handles = new ArrayList<>();
        final List<Sb> sandboxes = new ArrayList<>();
        byte nextPattern = 1;
        String where = "";

        Run(final long seed, final Lake lake, final boolean zeroing)
        {
            this.random = new Random(seed);
            this.lake = lake;
            allocators.add(new Model(lake, null, null, zeroing));
        }

        byte pattern()
        {
            byte p = nextPattern++;
            if (p == 0)
            {
                p = nextPattern++;
            }
            return p;
        }

        int alignUp(final int offset, final int alignment)
        {
            final long address = lake.address();
            return (int)(((address + offset + alignment - 1) & -(long)alignment) - address);
        }

        /** Registers a droplet just made on m at [at, end) whose allocation began at from. */
        Handle addDroplet(final Model m, final int from, final Droplet d, final int end)
        {
            final Handle h = new Handle(m, from, end, pattern());
            h.droplet = d;
            m.offset = end;
            h.minSince = end;
            if (m.zeroing)
            {
                for (int i = 0; i < d.length(); i++)
                {
                    assertEquals(0, d.getByte(i), where + ": a zeroing allocator handed out a dirty byte " + i + " of " + d);
                }
            }
            if (d.length() > 0)
            {
                d.fill(h.pattern);
            }
            m.handles.add(h);
            handles.add(h);
            return h;
        }
    }

    @Test
    void randomOperationsMatchTheModel()
    {
        final int only = Integer.getInteger("review.seed", 0);
        for (int seed = only > 0 ? only : 1; seed <= (only > 0 ? only : SEEDS); seed++)
        {
            final int capacity = seed % 3 == 0 ? 1024 : seed % 3 == 1 ? 4096 : 16384;
            final boolean zeroing = seed % 4 == 0;
            try (Lake lake = Lake.builder(capacity).zeroing(zeroing).build())
            {
                runSeed(new Run(seed, lake, zeroing), seed);
            }
        }
    }

    private static void runSeed(final Run r, final long seed)
    {
        for (int step = 0; step < STEPS; step++)
        {
            final Model m = r.allocators.get(r.random.nextInt(r.allocators.size()));
            final int op = r.random.nextInt(26);
            r.where = "seed " + seed + " step " + step + " op " + op;
            if (!m.alive())
            {
                assertFalse(m.real.isValid(), r.where);
                assertThrows(StaleHandleException.class, () -> m.real.allocate(8), r.where);
                assertThrows(StaleHandleException.class, m.real::snapshot, r.where);
                continue;
            }
            if (TRACE > 0 && step >= TRACE)
            {
                System.out.println(r.where + " on " + m.real + " pos " + m.offset + " marks " + m.marks + " sandboxes " +
                    m.sandboxes.size() + " zeroing " + m.zeroing);
            }
            step(r, m, op);
            verify(r);
        }
        r.lake.close();
        for (final Model a : r.allocators)
        {
            assertFalse(a.real.isValid(), r.where + " after close");
        }
        for (final Handle h : r.handles)
        {
            if (h.droplet != null)
            {
                assertFalse(h.droplet.isValid(), r.where + " after close");
                if (h.droplet.length() > 0)
                {
                    assertThrows(StaleHandleException.class, () -> h.droplet.getByte(0), r.where);
                }
                h.droplet.close();
            }
        }
    }

    private static void step(final Run r, final Model m, final int op)
    {
        final Random random = r.random;
        final String where = r.where;
        switch (op)
        {
            case 0, 1 -> // droplet(size): the bump8 fast path on the root
            {
                final int size = 1 + random.nextInt(96);
                final int at = r.alignUp(m.offset, 8);
                if (at + size > m.limit)
                {
                    assertThrows(LakeOverflowException.class, () -> m.real.droplet(size), where);
                }
                else
                {
                    final int from = m.offset;
                    final Droplet d = m.real.droplet(size);
                    assertEquals(at, d.offset(), where);
                    r.addDroplet(m, from, d, at + size);
                }
            }
            case 2 ->
            {
                final int size = 1 + random.nextInt(96);
                final int alignment = 1 << random.nextInt(7);
                final int at = r.alignUp(m.offset, alignment);
                if (at + size > m.limit)
                {
                    assertThrows(LakeOverflowException.class, () -> m.real.droplet(size, alignment), where);
                }
                else
                {
                    final int from = m.offset;
                    final Droplet d = m.real.droplet(size, alignment);
                    assertEquals(at, d.offset(), where);
                    r.addDroplet(m, from, d, at + size);
                }
            }
            case 3 -> process(r, m);
            case 4 ->
            {
                final int size = 1 + random.nextInt(64);
                final boolean aligned = random.nextBoolean();
                final int alignment = aligned ? 1 << random.nextInt(7) : 8;
                final int at = r.alignUp(m.offset, alignment);
                final int got = aligned ? m.real.tryAllocate(size, alignment) : m.real.tryAllocate(size);
                if (at + size > m.limit)
                {
                    assertEquals(LakeAllocator.NO_SPACE, got, where);
                }
                else
                {
                    assertEquals(at, got, where);
                    r.lake.buffer().setMemory(got, size, (byte)0xEE); // breaks any live droplet it overlaps
                    m.offset = at + size;
                }
            }
            case 5 ->
            {
                m.real.mark();
                m.marks.add(m.offset);
            }
            case 6 ->
            {
                if (m.marks.isEmpty())
                {
                    assertThrows(IllegalStateException.class, m.real::resetToMark, where);
                }
                else
                {
                    m.real.resetToMark();
                    m.rewind(m.marks.remove(m.marks.size() - 1));
                }
            }
            case 7 ->
            {
                if (!m.marks.isEmpty())
                {
                    m.real.moveMark();
                    m.marks.set(m.marks.size() - 1, m.offset);
                }
            }
            case 8, 9 ->
            {
                final Handle h = new Handle(m, m.offset, m.offset, (byte)0);
                h.snapshot = m.real.snapshot();
                h.minSince = m.offset;
                m.handles.add(h);
                r.handles.add(h);
            }
            case 10, 11 ->
            {
                final Handle h = pick(random, m.handles, x -> x.snapshot != null, random.nextBoolean());
                if (h != null)
                {
                    if (h.valid())
                    {
                        m.real.rewind(h.snapshot);
                        m.rewind(h.end);
                    }
                    else
                    {
                        assertThrows(StaleHandleException.class, () -> m.real.rewind(h.snapshot), where);
                    }
                }
            }
            case 12 ->
            {
                if (random.nextInt(3) == 0)
                {
                    m.real.reset();
                    m.rewind(m.start);
                }
                else if (random.nextInt(3) == 0)
                {
                    m.real.clear();
                    m.rewind(m.start);
                }
            }
            case 13, 14, 15 -> // close a droplet: mostly the most recent one (the last allocation)
            {
                final Handle h = pick(random, m.handles, x -> x.droplet != null, random.nextInt(4) != 0);
                if (h != null)
                {
                    closeDroplet(m, h);
                }
            }
            case 16 ->
            {
                final int length = 8 + random.nextInt(random.nextBoolean() ? 64 : 512);
                final int at = r.alignUp(m.offset, 8);
                if (at + length > m.limit)
                {
                    assertThrows(LakeOverflowException.class, () -> m.real.split(length), where);
                }
                else
                {
                    final Handle h = new Handle(m, m.offset, at + length, (byte)0);
                    final LakeView view = m.real.split(length);
                    assertEquals(at, view.start(), where);
                    m.offset = at + length;
                    h.minSince = m.offset;
                    h.view = new Model(view, m, h, m.zeroing);
                    m.handles.add(h);
                    r.allocators.add(h.view);
                }
            }
            case 17 -> // close a view: mostly the most recent one of m
            {
                final Handle h = pick(random, m.handles, x -> x.view != null, random.nextInt(3) != 0);
                if (h != null)
                {
                    closeView(h.view);
                }
            }
            case 18 ->
            {
                final Sb s;
                if (random.nextBoolean())
                {
                    s = new Sb(m, m.offset, m.real.sandbox(), 0);
                }
                else
                {
                    s = new Sb(m, m.offset, null, m.real.beginSandbox());
                }
                m.sandboxes.add(s);
                r.sandboxes.add(s);
            }
            case 19, 20 ->
            {
                final Sb s = pickSandbox(random, m, r.sandboxes);
                if (s != null)
                {
                    endSandbox(s, op == 19, where);
                }
            }
            case 21 ->
            {
                if (random.nextInt(4) == 0)
                {
                    m.zeroing = !m.zeroing;
                    m.real.setZeroing(m.zeroing);
                }
            }
            case 22, 23 -> place(r, m);
            case 24 -> // a snapshot of another allocator is refused and changes nothing
            {
                final Handle h = pick(random, r.handles, x -> x.snapshot != null && x.owner != m, false);
                if (h != null)
                {
                    assertThrows(IllegalArgumentException.class, () -> m.real.rewind(h.snapshot), where);
                }
            }
            case 25 -> // close a droplet that is not m's, or an already closed one: only its own allocator moves
            {
                final Handle h = pick(random, r.handles, x -> x.droplet != null, false);
                if (h != null)
                {
                    closeDroplet(h.owner, h);
                }
            }
            default -> fail("op " + op);
        }
    }

    private static void closeDroplet(final Model m, final Handle h)
    {
        final boolean last = h.valid() && h.end == m.offset &&
            m.marks.stream().noneMatch(x -> x > h.from) &&
            m.sandboxes.stream().noneMatch(s -> s.start > h.from);
        h.droplet.close();
        if (last)
        {
            m.rewind(h.from);
        }
    }

    private static void closeView(final Model v)
    {
        if (!v.alive())
        {
            ((LakeView)v.real).close(); // does nothing
            return;
        }
        final Model p = v.parent;
        final boolean last = v.self.end == p.offset &&
            p.marks.stream().noneMatch(x -> x > v.self.from) &&
            p.sandboxes.stream().noneMatch(s -> s.start > v.self.from);
        ((LakeView)v.real).close();
        v.rewind(v.start);
        if (last)
        {
            p.rewind(v.self.from);
        }
    }

    private static void process(final Run r, final Model m)
    {
        final Random random = r.random;
        final String where = r.where;
        final int alignment = 1 << random.nextInt(7);
        final int before = m.offset;
        final int at = r.alignUp(before, alignment);
        if (at > m.limit)
        {
            // the aligned start lies past the end: refused as allocate refuses it, the writer not called
            assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, (b, o, c) -> fail()), where);
            assertEquals(m.offset, m.real.position(), where);
            return;
        }
        final int capacity = m.limit - at;
        final int variant = random.nextInt(12);
        switch (variant)
        {
            case 0 ->
            {
                final RuntimeException ex = assertThrows(RuntimeException.class, () -> m.real.process(alignment, (b, o, c) ->
                {
                    if (c > 0)
                    {
                        b.putByte(o, (byte)0x55); // dirty a free byte, then fail
                    }
                    throw new UnsupportedOperationException("writer failed");
                }), where);
                assertInstanceOf(UnsupportedOperationException.class, ex, where);
            }
            case 1 -> assertThrows(IllegalArgumentException.class, () -> m.real.process(alignment, (b, o, c) -> -1), where);
            case 2 -> assertThrows(LakeOverflowException.class, () -> m.real.process(alignment, (b, o, c) -> c + 1), where);
            case 3 ->
            {
                // a writer that allocates on the same allocator: refused, its own droplet stays
                final int dat = r.alignUp(before, 8);
                if (dat + 8 > m.limit)
                {
                    return;
                }
                final Droplet[] made = new Droplet[1];
                assertThrows(IllegalStateException.class, () -> m.real.process(alignment, (b, o, c) ->
                {
                    made[0] = m.real.droplet(8);
                    return 0;
                }), where);
                assertEquals(dat, made[0].offset(), where);
                r.addDroplet(m, before, made[0], dat + 8);
            }
            default ->
            {
                final int keep = variant == 4 ? 0 : Math.min(capacity, random.nextInt(97));
                final boolean zeroing = m.zeroing;
                final Droplet d = m.real.process(alignment, (b, o, c) ->
                {
                    assertEquals(at, o, where);
                    assertEquals(capacity, c, where);
                    if (zeroing)
                    {
                        for (int i = 0; i < Math.min(c, 160); i++)
                        {
                            assertEquals(0, b.getByte(o + i), where + ": process() gave a zeroing writer a dirty byte " + i);
                        }
                    }
                    return keep;
                });
                assertEquals(at, d.offset(), where);
                assertEquals(keep, d.length(), where);
                final Handle h = new Handle(m, before, at + keep, r.pattern());
                h.droplet = d;
                m.offset = at + keep;
                h.minSince = m.offset;
                if (keep > 0)
                {
                    d.fill(h.pattern);
                }
                m.handles.add(h);
                r.handles.add(h);
            }
        }
        assertEquals(m.offset, m.real.position(), where);
    }

    private static void place(final Run r, final Model m)
    {
        final Random random = r.random;
        final String where = r.where;
        final int size = 1 + random.nextInt(64);
        final int alignment = 1 << random.nextInt(7);
        final int before = m.offset;
        final int at = r.alignUp(before, alignment);
        if (at + size > m.limit)
        {
            assertThrows(LakeOverflowException.class, () -> m.real.place(new Object(), size, alignment, (f, b, o) -> fail()), where);
            return;
        }
        final int variant = random.nextInt(6);
        final int[] wrapped = {-1};
        final Droplet[] made = new Droplet[1];
        final int dat = r.alignUp(at + size, 8);
        final Runnable inside = switch (variant)
        {
            case 1 -> () -> { }; // left the lake alone
            case 2 -> () ->
            {
                if (dat + 8 <= m.limit)
                {
                    made[0] = m.real.droplet(8);
                }
            };
            case 3 -> m.real::mark;
            case 4 -> m.real::beginSandbox;
            case 5 -> m.real::reset;
            default -> null;
        };
        if (inside == null)
        {
            m.real.place(new Object(), size, alignment, (f, b, o) -> wrapped[0] = o);
            assertEquals(at, wrapped[0], where);
            r.lake.buffer().setMemory(at, size, (byte)0xEE);
            m.offset = at + size;
            return;
        }
        assertThrows(IllegalStateException.class, () -> m.real.place(new Object(), size, alignment, (f, b, o) ->
        {
            inside.run();
            throw new IllegalStateException("codec failed");
        }), where);
        // model: whatever the wrapper made, then the exact rewind back to where the placement began
        m.offset = at + size;
        switch (variant)
        {
            case 2 ->
            {
                if (made[0] != null)
                {
                    // the wrapper's droplet: registered, then dead with the undo (not touched: it is stale now)
                    final Handle h = new Handle(m, at + size, dat + 8, (byte)0);
                    h.droplet = made[0];
                    h.minSince = dat + 8;
                    m.offset = dat + 8;
                    m.handles.add(h);
                    r.handles.add(h);
                }
            }
            case 3 -> m.marks.add(m.offset);
            case 4 -> m.sandboxes.add(new Sb(m, m.offset, null, 0)); // dropped below, never ended by the test
            case 5 -> m.rewind(m.start);
            default ->
            {
            }
        }
        if (m.offset >= before)
        {
            m.rewind(before);
        }
        assertEquals(m.offset, m.real.position(), where);
    }

    private static void endSandbox(final Sb s, final boolean commit, final String where)
    {
        final Model m = s.owner;
        final boolean open = !s.ended && m.alive() && m.sandboxes.contains(s);
        final boolean innermost = open && m.sandboxes.get(m.sandboxes.size() - 1) == s;
        if (s.real == null)
        {
            if (commit)
            {
                if (!open)
                {
                    assertThrows(StaleHandleException.class, () -> m.real.commitSandbox(s.token), where);
                }
                else if (!innermost)
                {
                    final IllegalStateException ex =
                        assertThrows(IllegalStateException.class, () -> m.real.commitSandbox(s.token), where);
                    assertFalse(ex instanceof StaleHandleException, where);
                }
                else
                {
                    m.real.commitSandbox(s.token);
                    m.sandboxes.remove(s);
                    s.ended = true;
                }
            }
            else
            {
                if (open && !innermost)
                {
                    assertThrows(IllegalStateException.class, () -> m.real.endSandbox(s.token), where);
                }
                else
                {
                    m.real.endSandbox(s.token);
                    if (open)
                    {
                        m.sandboxes.remove(s);
                        m.rollBack(s);
                    }
                    s.ended = true;
                }
            }
            return;
        }
        if (commit)
        {
            if (s.ended)
            {
                assertThrows(IllegalStateException.class, s.real::commit, where);
            }
            else if (!open)
            {
                assertThrows(StaleHandleException.class, s.real::commit, where);
            }
            else if (!innermost)
            {
                final IllegalStateException ex = assertThrows(IllegalStateException.class, s.real::commit, where);
                assertFalse(ex instanceof StaleHandleException, where);
            }
            else
            {
                s.real.commit();
                m.sandboxes.remove(s);
                s.ended = true;
                assertTrue(s.real.isCommitted(), where);
            }
        }
        else
        {
            if (open && !innermost)
            {
                assertThrows(IllegalStateException.class, s.real::close, where);
            }
            else
            {
                s.real.close();
                if (open)
                {
                    m.sandboxes.remove(s);
                    m.rollBack(s);
                }
                s.ended = true;
            }
        }
    }

    private static void verify(final Run r)
    {
        final String where = r.where;
        for (final Model m : r.allocators)
        {
            final boolean alive = m.alive();
            assertEquals(alive, m.real.isValid(), where + " " + m.real);
            if (alive)
            {
                assertEquals(m.offset, m.real.position(), where);
                assertEquals(m.marks.size(), m.real.markDepth(), where);
                assertEquals(m.sandboxes.size(), m.real.openSandboxes(), where);
                assertEquals(m.offset - m.start, m.real.used(), where);
                assertEquals(m.limit - m.offset, m.real.remaining(), where);
            }
        }
        for (final Sb s : r.sandboxes)
        {
            if (s.real != null)
            {
                final boolean open = !s.ended && s.owner.alive() && s.owner.sandboxes.contains(s);
                assertEquals(open, s.real.isOpen(), where + " " + s.real);
            }
        }
        for (final Handle h : r.handles)
        {
            final boolean valid = h.valid();
            if (h.snapshot != null)
            {
                final LakeSnapshot s = h.snapshot;
                final boolean real = h.owner.real.isValid() && h.owner.real.holds(s.epochIndex(), s.epochId(), s.position());
                assertEquals(valid, real, where + " snapshot at " + s.position() + " of " + h.owner.real);
                continue;
            }
            if (h.droplet == null)
            {
                continue;
            }
            assertEquals(valid, h.droplet.isValid(), where + " " + h.droplet + " from " + h.from);
            final int length = h.droplet.length();
            if (valid)
            {
                if (length > 0)
                {
                    assertEquals(h.pattern, h.droplet.getByte(0), where + " " + h.droplet);
                    assertEquals(h.pattern, h.droplet.getByte(length - 1), where + " " + h.droplet);
                    assertEquals(h.pattern, h.droplet.getByte(length / 2), where + " " + h.droplet);
                }
            }
            else
            {
                assertThrows(StaleHandleException.class, h.droplet::checkedOffset, where);
                if (length > 0)
                {
                    assertThrows(StaleHandleException.class, () -> h.droplet.putByte(0, (byte)1), where);
                }
            }
        }
    }

    private static Handle pick(final Random random, final List<Handle> from, final java.util.function.Predicate<Handle> kind,
        final boolean latest)
    {
        Handle last = null;
        final List<Handle> candidates = new ArrayList<>();
        for (final Handle h : from)
        {
            if (kind.test(h))
            {
                candidates.add(h);
                last = h;
            }
        }
        if (candidates.isEmpty())
        {
            return null;
        }
        return latest ? last : candidates.get(random.nextInt(candidates.size()));
    }

    private static Sb pickSandbox(final Random random, final Model m, final List<Sb> all)
    {
        if (!m.sandboxes.isEmpty() && random.nextBoolean())
        {
            final Sb innermost = m.sandboxes.get(m.sandboxes.size() - 1);
            if (innermost.real != null || innermost.token != 0)
            {
                return innermost;
            }
        }
        final List<Sb> mine = new ArrayList<>();
        for (final Sb s : all)
        {
            if (s.owner == m && (s.real != null || s.token != 0))
            {
                mine.add(s);
            }
        }
        return mine.isEmpty() ? null : mine.get(random.nextInt(mine.size()));
    }
}
