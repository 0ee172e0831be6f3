package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Random sequences of every lake operation (on the lake and on nested views) checked step by step against a
 * brute-force model: a handle is valid exactly when the position of its allocator never went below its end
 * since it was made, and its allocator is valid. Every valid droplet's bytes must still hold the pattern
 * written when it was made, so no allocation ever overlaps live memory.
 */
class LakeModelTest
{
    private static final int CAPACITY = 4096;

    /** Model of one allocator (the lake or a view). */
    private static final class Model
    {
        final LakeAllocator real;
        final Model parent;
        final Handle self; // this view's handle in its parent; null for the lake
        final int start;
        final int limit;
        int offset;
        final List<Integer> marks = new ArrayList<>();
        final List<SandboxModel> sandboxes = new ArrayList<>(); // open, innermost last
        final List<Handle> handles = new ArrayList<>();

        Model(final LakeAllocator real, final Model parent, final Handle self)
        {
            this.real = real;
            this.parent = parent;
            this.self = self;
            this.start = real.start();
            this.limit = real.limit();
            this.offset = start;
        }

        boolean alive()
        {
            return parent == null || parent.alive() && self.valid();
        }

        void rewind(final int to)
        {
            offset = to;
            marks.removeIf(m -> m > to);
            sandboxes.removeIf(s -> s.start > to);
            for (final Handle h : handles)
            {
                h.minSince = Math.min(h.minSince, to);
            }
        }
    }

    /** Model of a droplet, snapshot or view: valid while minSince >= end. */
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
            this.minSince = owner.offset;
        }

        boolean valid()
        {
            return owner.alive() && minSince >= end;
        }
    }

    private static final class SandboxModel
    {
        final Sandbox real;
        final Model owner;
        final int start;
        boolean ended;

        SandboxModel(final Sandbox real, final Model owner, final int start)
        {
            this.real = real;
            this.owner = owner;
            this.start = start;
        }
    }

    @Test
    void randomOperationsMatchTheModel()
    {
        for (int seed = 1; seed <= 30; seed++)
        {
            runSeed(seed, 2_000);
        }
    }

    private static void runSeed(final long seed, final int steps)
    {
        final Random random = new Random(seed);
        try (Lake lake = Lake.of(CAPACITY))
        {
            final List<Model> allocators = new ArrayList<>();
            final List<Handle> handles = new ArrayList<>();
            final List<SandboxModel> sandboxes = new ArrayList<>();
            allocators.add(new Model(lake, null, null));
            byte nextPattern = 1;

            for (int step = 0; step < steps; step++)
            {
                final Model m = allocators.get(random.nextInt(allocators.size()));
                final String where = "seed " + seed + " step " + step;
                if (!m.alive())
                {
                    assertFalse(m.real.isValid(), where);
                    assertThrows(StaleHandleException.class, () -> m.real.allocate(8), where);
                    assertThrows(StaleHandleException.class, m.real::mark, where);
                    continue;
                }
                final int op = random.nextInt(15);
                switch (op)
                {
                    case 0, 1, 2 ->
                    {
                        final int size = 1 + random.nextInt(96);
                        final int alignment = 1 << random.nextInt(7);
                        final int at = alignUp(lake, m.offset, alignment);
                        if (at + size > m.limit)
                        {
                            assertThrows(LakeOverflowException.class, () -> m.real.droplet(size, alignment), where);
                        }
                        else
                        {
                            final Handle h = new Handle(m, m.offset, at + size, nextPattern++);
                            h.droplet = m.real.droplet(size, alignment);
                            assertEquals(at, h.droplet.offset(), where);
                            h.droplet.fill(h.pattern);
                            m.offset = at + size;
                            h.minSince = m.offset;
                            m.handles.add(h);
                            handles.add(h);
                        }
                    }
                    case 3 ->
                    {
                        final int size = 1 + random.nextInt(64);
                        final int at = alignUp(lake, m.offset, 8);
                        final int got = m.real.tryAllocate(size);
                        if (at + size > m.limit)
                        {
                            assertEquals(LakeAllocator.NO_SPACE, got, where);
                        }
                        else
                        {
                            assertEquals(at, got, where);
                            lake.buffer().setMemory(got, size, (byte)0xEE); // would break any live droplet it overlaps
                            m.offset = at + size;
                        }
                    }
                    case 4 ->
                    {
                        m.real.mark();
                        m.marks.add(m.offset);
                    }
                    case 5 ->
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
                    case 6 ->
                    {
                        if (m.marks.isEmpty())
                        {
                            assertThrows(IllegalStateException.class, m.real::moveMark, where);
                        }
                        else
                        {
                            m.real.moveMark();
                            m.marks.set(m.marks.size() - 1, m.offset);
                        }
                    }
                    case 7 ->
                    {
                        final Handle h = new Handle(m, m.offset, m.offset, (byte)0);
                        h.snapshot = m.real.snapshot();
                        m.handles.add(h);
                        handles.add(h);
                    }
                    case 8 ->
                    {
                        final Handle h = pick(random, m.handles, true);
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
                    case 9 ->
                    {
                        if (random.nextInt(4) == 0)
                        {
                            m.real.reset();
                            m.rewind(m.start);
                        }
                    }
                    case 10 ->
                    {
                        final Handle h = pick(random, m.handles, false);
                        if (h != null && h.droplet != null)
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
                    }
                    case 11 ->
                    {
                        final int length = 16 + random.nextInt(512);
                        final int at = alignUp(lake, m.offset, 8);
                        if (at + length > m.limit)
                        {
                            assertThrows(LakeOverflowException.class, () -> m.real.split(length), where);
                        }
                        else
                        {
                            final Handle h = new Handle(m, m.offset, at + length, (byte)0);
                            final LakeView view = m.real.split(length);
                            m.offset = at + length;
                            h.minSince = m.offset;
                            h.view = new Model(view, m, h);
                            m.handles.add(h);
                            allocators.add(h.view);
                        }
                    }
                    case 12 ->
                    {
                        final SandboxModel s = new SandboxModel(m.real.sandbox(), m, m.offset);
                        m.sandboxes.add(s);
                        sandboxes.add(s);
                    }
                    case 13, 14 ->
                    {
                        final SandboxModel s = pickSandbox(random, m, sandboxes);
                        if (s != null)
                        {
                            endSandbox(s, op == 13, where);
                        }
                    }
                    default -> fail("op " + op);
                }
                if (random.nextInt(97) == 0 && m.real instanceof LakeView view)
                {
                    final boolean last = m.self.end == m.parent.offset &&
                        m.parent.marks.stream().noneMatch(x -> x > m.self.from) &&
                        m.parent.sandboxes.stream().noneMatch(s -> s.start > m.self.from);
                    view.close();
                    m.rewind(m.start);
                    if (last)
                    {
                        m.parent.rewind(m.self.from);
                    }
                }
                verify(allocators, handles, where);
            }
        }
    }

    private static void endSandbox(final SandboxModel s, final boolean commit, final String where)
    {
        final Model m = s.owner;
        final boolean open = !s.ended && m.alive() && m.sandboxes.contains(s);
        final boolean innermost = open && m.sandboxes.get(m.sandboxes.size() - 1) == s;
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
                    m.rewind(s.start);
                }
                s.ended = true;
            }
        }
    }

    private static void verify(final List<Model> allocators, final List<Handle> handles, final String where)
    {
        for (final Model m : allocators)
        {
            final boolean alive = m.alive();
            assertEquals(alive, m.real.isValid(), where);
            if (alive)
            {
                assertEquals(m.offset, m.real.position(), where);
                assertEquals(m.marks.size(), m.real.markDepth(), where);
                assertEquals(m.sandboxes.size(), m.real.openSandboxes(), where);
                assertEquals(m.offset - m.start, m.real.used(), where);
                assertEquals(m.limit - m.offset, m.real.remaining(), where);
            }
        }
        for (final Handle h : handles)
        {
            if (h.droplet == null)
            {
                continue;
            }
            final boolean valid = h.valid();
            assertEquals(valid, h.droplet.isValid(), where + " " + h.droplet);
            if (valid)
            {
                final int length = h.droplet.length();
                assertEquals(h.pattern, h.droplet.getByte(0), where);
                assertEquals(h.pattern, h.droplet.getByte(length - 1), where);
                assertEquals(h.pattern, h.droplet.getByte(length / 2), where);
            }
            else
            {
                assertThrows(StaleHandleException.class, () -> h.droplet.getByte(0), where);
                assertThrows(StaleHandleException.class, () -> h.droplet.putByte(0, (byte)1), where);
            }
        }
    }

    private static Handle pick(final Random random, final List<Handle> from, final boolean snapshots)
    {
        final List<Handle> candidates = new ArrayList<>();
        for (final Handle h : from)
        {
            if ((h.snapshot != null) == snapshots)
            {
                candidates.add(h);
            }
        }
        return candidates.isEmpty() ? null : candidates.get(random.nextInt(candidates.size()));
    }

    private static SandboxModel pickSandbox(final Random random, final Model m, final List<SandboxModel> all)
    {
        final List<SandboxModel> mine = new ArrayList<>();
        for (final SandboxModel s : all)
        {
            if (s.owner == m)
            {
                mine.add(s);
            }
        }
        if (mine.isEmpty())
        {
            return null;
        }
        // prefer the innermost open one, so that sandboxes also end the ordinary way
        if (!m.sandboxes.isEmpty() && random.nextBoolean())
        {
            return m.sandboxes.get(m.sandboxes.size() - 1);
        }
        return mine.get(random.nextInt(mine.size()));
    }

    private static int alignUp(final Lake lake, final int offset, final int alignment)
    {
        final long address = lake.address();
        return (int)(((address + offset + alignment - 1) & -(long)alignment) - address);
    }
}
