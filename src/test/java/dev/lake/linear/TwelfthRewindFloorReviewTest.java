package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.StaleHandleException;
import dev.lake.thread.ThreadLakes;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Twelfth review: the rewind floor of b3e4525 (a rewind to or above {@code rewindFloor} only stores the offset and
 * counts the generation). Two kinds of guard:
 * <ul>
 *   <li>A differential fuzz: every random sequence runs on two lakes in lockstep, one as shipped and one whose floor
 *   is lifted to its maximum before every call and after every callback, so that every rewind there takes the full
 *   path as before b3e4525. Every observable (results, exceptions, positions, generations, stacks, epoch entries, the
 *   validity of every droplet, snapshot, sandbox, token and view, every byte of the buffer) must agree after every
 *   step; and after every step the shipped floor must be at or above what the stacks need (the top epoch's cap, the
 *   top mark, the top sandbox's start; the maximum while zeroing). Rewinds land on recorded positions on purpose:
 *   marks, snapshots, sandbox starts, droplet ends and epoch bounds, and 8 bytes above them.</li>
 *   <li>Hostile sequences written out (views of views, tokens, re-entrant writers and wrappers, clear, zeroing,
 *   confinement and thread-lake hand-over), each rewinding exactly at the floor or just below it.</li>
 * </ul>
 * The floor is private, so the checks read it (and the stacks) by reflection: a rename here is a compile-free break
 * that the first test reports by name.
 */
class TwelfthRewindFloorReviewTest
{
    private static final int UNCAPPED = Integer.MAX_VALUE;
    private static final Field FLOOR = field("rewindFloor");
    private static final Field EPOCHS = field("epochs");
    private static final Field EPOCH_DEPTH = field("epochDepth");
    private static final Field VIEW_TOP = field("viewTop");
    private static final Field MARKS = field("marks");
    private static final Field MARK_DEPTH = field("markDepth");
    private static final Field STARTS = field("sandboxStarts");
    private static final Field SANDBOX_DEPTH = field("sandboxDepth");

    private static Field field(final String name)
    {
        try
        {
            final Field field = LakeAllocator.class.getDeclaredField(name);
            field.setAccessible(true);
            return field;
        }
        catch (final NoSuchFieldException e)
        {
            throw new AssertionError("LakeAllocator has no field " + name + ": update this review test", e);
        }
    }

    private static int getInt(final Field field, final LakeAllocator allocator)
    {
        try
        {
            return field.getInt(allocator);
        }
        catch (final IllegalAccessException e)
        {
            throw new AssertionError(e);
        }
    }

    private static Object get(final Field field, final LakeAllocator allocator)
    {
        try
        {
            return field.get(allocator);
        }
        catch (final IllegalAccessException e)
        {
            throw new AssertionError(e);
        }
    }

    static int floor(final LakeAllocator allocator)
    {
        return getInt(FLOOR, allocator);
    }

    static void liftFloor(final LakeAllocator allocator)
    {
        try
        {
            FLOOR.setInt(allocator, UNCAPPED);
        }
        catch (final IllegalAccessException e)
        {
            throw new AssertionError(e);
        }
    }

    /** The lowest floor the stacks allow: what the full rewind would have to look at below it. */
    static int neededFloor(final LakeAllocator a)
    {
        if (a.zeroing)
        {
            return UNCAPPED;
        }
        int needed = 0;
        final int epochs = getInt(EPOCH_DEPTH, a);
        if (epochs > 0)
        {
            needed = (int)((long[])get(EPOCHS, a))[2 * (epochs - 1) + 1];
        }
        final int marks = getInt(MARK_DEPTH, a);
        if (marks > 0)
        {
            needed = Math.max(needed, ((int[])get(MARKS, a))[marks - 1]);
        }
        final int sandboxes = getInt(SANDBOX_DEPTH, a);
        if (sandboxes > 0)
        {
            needed = Math.max(needed, (int)((long[])get(STARTS, a))[sandboxes - 1]);
        }
        return needed;
    }

    static void assertFloorSafe(final LakeAllocator a, final String when)
    {
        final int floor = floor(a);
        final int needed = neededFloor(a);
        assertTrue(floor >= needed, () -> when + ": " + a + " has floor " + floor + " below " + needed +
            ", which a rewind between them needs to see");
        final int epochs = getInt(EPOCH_DEPTH, a);
        if (epochs > 0)
        {
            final long bounds = ((long[])get(EPOCHS, a))[2 * (epochs - 1) + 1];
            assertTrue((int)(bounds >>> 32) <= (int)bounds, () -> when + ": top epoch's minEnd above its cap");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // The differential fuzz
    // ------------------------------------------------------------------------------------------------------

    /** One lake and every handle made from it; {@code full} lifts the floor so every rewind takes the full path. */
    static final class World implements AutoCloseable
    {
        final boolean full;
        final Lake lake;
        final List<LakeAllocator> allocators = new ArrayList<>();
        final List<Droplet> droplets = new ArrayList<>();
        final List<LakeSnapshot> snapshots = new ArrayList<>();
        final List<Sandbox> sandboxes = new ArrayList<>();
        final List<long[]> tokens = new ArrayList<>(); // {allocator index, token}
        /** Rewinds of the shipped lake that the floor let through on the short path (about). */
        long shortRewinds;

        World(final boolean full, final int capacity, final boolean zeroing)
        {
            this.full = full;
            // page-aligned, so that alignments give the same offsets in both lakes
            lake = Lake.builder(capacity).alignment(Memory.pageSize()).zeroing(zeroing).build();
            lake.clear(); // the same bytes in both
            allocators.add(lake);
        }

        void lift()
        {
            if (full)
            {
                for (final LakeAllocator a : allocators)
                {
                    liftFloor(a);
                }
            }
        }

        @Override
        public void close()
        {
            lake.close();
        }

        LakeAllocator allocator(final int pick)
        {
            // most picks go to a live allocator; some to any (dead views answer with their exceptions)
            if (pick % 5 != 0)
            {
                final List<LakeAllocator> live = new ArrayList<>();
                for (final LakeAllocator a : allocators)
                {
                    if (alive(a))
                    {
                        live.add(a);
                    }
                }
                if (!live.isEmpty())
                {
                    return live.get(pick % live.size());
                }
            }
            return allocators.get(pick % allocators.size());
        }

        static <T> T nth(final List<T> list, final int pick)
        {
            return list.isEmpty() ? null : list.get(pick % list.size());
        }

        LakeSnapshot snapshotOf(final LakeAllocator a, final int pick)
        {
            final List<LakeSnapshot> mine = new ArrayList<>();
            for (final LakeSnapshot s : snapshots)
            {
                if (s.allocator() == a)
                {
                    mine.add(s);
                }
            }
            // now and then another allocator's, which must be refused
            return mine.isEmpty() || pick % 13 == 0 ? nth(snapshots, pick) : nth(mine, pick);
        }

        /** Every position a rewind of {@code a} could land on exactly that matters to a stack, and 8 above each. */
        List<Integer> positions(final LakeAllocator a)
        {
            final TreeSet<Integer> set = new TreeSet<>();
            set.add(a.start);
            for (final LakeSnapshot s : snapshots)
            {
                if (s.allocator() == a)
                {
                    set.add(s.position());
                }
            }
            for (final Droplet d : droplets)
            {
                if (d.allocator() == a)
                {
                    set.add(d.offset());
                    set.add(d.offset() + d.length());
                }
            }
            final int[] marks = (int[])get(MARKS, a);
            for (int k = 0; k < getInt(MARK_DEPTH, a); k++)
            {
                set.add(marks[k]);
            }
            final long[] starts = (long[])get(STARTS, a); // start in the low half, mark depth in the high
            for (int k = 0; k < getInt(SANDBOX_DEPTH, a); k++)
            {
                set.add((int)starts[k]);
            }
            final long[] epochs = (long[])get(EPOCHS, a);
            for (int k = 0; k < getInt(EPOCH_DEPTH, a); k++)
            {
                set.add((int)(epochs[2 * k + 1] >>> 32));
                set.add((int)epochs[2 * k + 1]);
            }
            final List<Integer> out = new ArrayList<>();
            for (final int p : set)
            {
                if (p >= a.start && p <= a.offset)
                {
                    out.add(p);
                    if (p + 8 <= a.offset)
                    {
                        out.add(p + 8);
                    }
                }
            }
            return out;
        }

        /** Applies one step (the same {@code p} in both worlds) and says what happened. */
        String apply(final int[] p)
        {
            lift();
            final int before = allocators.size();
            final int[] floors = new int[before];
            final int[] depths = new int[before];
            final long[] generations = new long[before];
            for (int k = 0; k < before; k++)
            {
                final LakeAllocator a = allocators.get(k);
                floors[k] = floor(a);
                generations[k] = a.generation;
                depths[k] = getInt(EPOCH_DEPTH, a);
            }
            final LakeAllocator a = allocator(p[0]);
            final String who = "a" + allocators.indexOf(a) + " op" + p[1] + " ";
            try
            {
                return who + op(a, p);
            }
            catch (final RuntimeException | Error e)
            {
                return who + "threw " + e.getClass().getSimpleName();
            }
            finally
            {
                for (int k = 0; k < before; k++)
                {
                    // one rewind, to or above the floor held before the step, no epoch pushed or renewed meanwhile
                    // (which would have lifted the floor): the short path's case
                    final LakeAllocator b = allocators.get(k);
                    if (b.generation == generations[k] + 1 && floors[k] != UNCAPPED && b.offset >= floors[k] &&
                        getInt(EPOCH_DEPTH, b) == depths[k] && floor(b) != UNCAPPED)
                    {
                        shortRewinds++;
                    }
                }
            }
        }

        private static final int[] SIZES = {1, 3, 7, 8, 8, 16, 24, 64, 100};
        private static final int[] ALIGNMENTS = {1, 4, 8, 16, 64};

        String op(final LakeAllocator a, final int[] p)
        {
            final int size = SIZES[p[2] % SIZES.length];
            final int alignment = ALIGNMENTS[p[3] % ALIGNMENTS.length];
            switch (p[1])
            {
                case 0:
                case 1:
                    return "allocate " + a.allocate(size);
                case 2:
                    return "allocate aligned " + a.allocate(size, alignment);
                case 3:
                case 4:
                {
                    final Droplet d = p[4] % 2 == 0 ? a.droplet(size) : a.droplet(size, alignment);
                    droplets.add(d);
                    d.setMemory(0, d.length(), (byte)(droplets.size() | 1));
                    return "droplet " + d.offset() + "+" + d.length();
                }
                case 5:
                case 6:
                {
                    final Droplet d = nth(droplets, p[4]);
                    if (d != null)
                    {
                        d.close();
                    }
                    return "close droplet";
                }
                case 7:
                {
                    final Droplet d = nth(droplets, p[4]);
                    if (d != null)
                    {
                        d.putByte(0, (byte)7);
                    }
                    return "write droplet";
                }
                case 8:
                case 9:
                {
                    final LakeSnapshot s = a.snapshot();
                    snapshots.add(s);
                    return "snapshot " + s.position() + "@" + s.epochIndex();
                }
                case 10:
                case 11:
                case 12:
                {
                    final LakeSnapshot s = snapshotOf(a, p[4]);
                    if (s != null)
                    {
                        a.rewind(s);
                    }
                    return "rewind " + (s == null ? "none" : s.position());
                }
                case 13:
                case 14:
                case 15:
                {
                    // a made-up snapshot: a genuine registration and another position (documented: refused, or a
                    // rewind below the position), the one way to land a rewind on any position of interest
                    final LakeSnapshot s = snapshotOf(a, p[4]);
                    final List<Integer> positions = positions(a);
                    if (s == null || s.allocator() != a || positions.isEmpty())
                    {
                        return "no made-up rewind";
                    }
                    final int to = positions.get(p[5] % positions.size());
                    a.rewind(new LakeSnapshot(a, to, s.epochIndex(), s.epochId()));
                    return "made-up rewind " + to;
                }
                case 16:
                    a.mark();
                    return "mark";
                case 17:
                    a.moveMark();
                    return "moveMark";
                case 18:
                case 19:
                    a.resetToMark();
                    return "resetToMark";
                case 20:
                {
                    final Sandbox s = a.sandbox();
                    sandboxes.add(s);
                    return "sandbox " + s.start();
                }
                case 21:
                {
                    final Sandbox s = nth(sandboxes, p[4]);
                    if (s != null)
                    {
                        s.commit();
                    }
                    return "commit";
                }
                case 22:
                {
                    final Sandbox s = nth(sandboxes, p[4]);
                    if (s != null)
                    {
                        if (p[5] % 2 == 0)
                        {
                            s.rollback();
                        }
                        else
                        {
                            s.close();
                        }
                    }
                    return "roll back";
                }
                case 23:
                {
                    final Sandbox s = nth(sandboxes, p[4]);
                    if (s != null)
                    {
                        droplets.add(s.droplet(size));
                    }
                    return "sandbox droplet";
                }
                case 24:
                    tokens.add(new long[] {allocators.indexOf(a), a.beginSandbox()});
                    return "begin token";
                case 25:
                case 26:
                {
                    final long[] t = nth(tokens, p[4]);
                    if (t != null)
                    {
                        final LakeAllocator owner = p[5] % 8 == 0 ? a : allocators.get((int)t[0]);
                        if (p[1] == 25)
                        {
                            owner.commitSandbox(t[1]);
                        }
                        else
                        {
                            owner.endSandbox(t[1]);
                        }
                    }
                    return "end token";
                }
                case 27:
                {
                    final LakeView view = a.split(32 * (1 + p[4] % 16), p[5] % 2 == 0 ? 8 : 64);
                    allocators.add(view);
                    return "split " + view.start() + ".." + view.limit();
                }
                case 28:
                    if (a instanceof LakeView)
                    {
                        ((LakeView)a).close();
                    }
                    return "close view";
                case 29:
                    a.reset();
                    return "reset";
                case 30:
                    if (p[4] % 3 == 0)
                    {
                        a.clear();
                    }
                    return "clear";
                case 31:
                    a.setZeroing(p[4] % 2 == 0);
                    return "zeroing " + a.isZeroing();
                case 32:
                case 33:
                    return "process " + process(a, p);
                case 34:
                case 35:
                    return "place " + place(a, p, size, alignment);
                case 36:
                    lake.confineTo(p[4] % 2 == 0 ? Thread.currentThread() : null);
                    return "confine";
                case 37:
                {
                    final Droplet d = nth(droplets, p[4]);
                    if (d != null)
                    {
                        d.wrap(new Object(), (flyweight, buffer, offset) -> scratch(d.allocator(), p));
                    }
                    return "droplet wrap";
                }
                case 38:
                {
                    a.mark();
                    a.buffer().putByte(a.allocate(size), (byte)9);
                    a.resetToMark();
                    return "mark scope";
                }
                case 39:
                {
                    final LakeSnapshot s = a.snapshot();
                    snapshots.add(s);
                    droplets.add(a.droplet(size));
                    a.rewind(s);
                    return "snapshot scope";
                }
                case 41:
                    if (p[4] % 10 == 0)
                    {
                        lake.close(); // everything after answers closed in both
                    }
                    return "close";
                default:
                {
                    final long token = a.beginSandbox();
                    a.allocate(size);
                    if (p[4] % 2 == 0)
                    {
                        a.commitSandbox(token);
                    }
                    a.endSandbox(token);
                    return "token scope";
                }
            }
        }

        /** What writers and wrappers do inside: nothing, scratch above, a rewind anywhere, a mark scope. */
        void scratch(final LakeAllocator a, final int[] p)
        {
            try
            {
                switch (p[6] % 4)
                {
                    case 1:
                    {
                        final LakeSnapshot s = a.snapshot();
                        snapshots.add(s);
                        a.allocate(SIZES[p[2] % SIZES.length]);
                        lift();
                        a.rewind(s);
                        break;
                    }
                    case 2:
                    {
                        final LakeSnapshot s = snapshotOf(a, p[5]);
                        if (s != null && s.allocator() == a)
                        {
                            a.rewind(s);
                        }
                        break;
                    }
                    case 3:
                        a.mark();
                        a.allocate(8);
                        lift();
                        a.resetToMark();
                        break;
                    default:
                        break;
                }
            }
            finally
            {
                lift(); // the library's own rewind after the callback (an undo) must take the full path too
            }
        }

        String process(final LakeAllocator a, final int[] p)
        {
            final int keep = p[4] % 40;
            final int behaviour = p[6] % 8;
            final Droplet d = a.process(ALIGNMENTS[p[3] % ALIGNMENTS.length],
                (MutableDirectBuffer buffer, int offset, int capacity) ->
                {
                    final int n = Math.min(keep, capacity);
                    if (n > 0)
                    {
                        buffer.setMemory(offset, n, (byte)0x5A);
                    }
                    try
                    {
                        switch (behaviour)
                        {
                            case 1:
                                snapshots.add(a.snapshot());
                                return n;
                            case 2:
                                a.mark();
                                return n;
                            case 3:
                                a.mark();
                                a.resetToMark(); // at the position: no rewind, kept
                                return n;
                            case 4:
                                throw new IllegalStateException("the writer fails");
                            case 5:
                                return -1;
                            case 6:
                                a.allocate(8); // refused afterwards
                                return n;
                            case 7:
                                tokens.add(new long[] {allocators.indexOf(a), a.beginSandbox()});
                                return n;
                            default:
                                return n;
                        }
                    }
                    finally
                    {
                        lift();
                    }
                });
            droplets.add(d);
            return behaviour + " kept " + d.offset() + "+" + d.length();
        }

        String place(final LakeAllocator a, final int[] p, final int size, final int alignment)
        {
            final int behaviour = p[6] % 7;
            a.place(new Object(), size, alignment, (flyweight, buffer, offset) ->
            {
                buffer.setMemory(offset, size, (byte)0x6B);
                try
                {
                    switch (behaviour)
                    {
                        case 4:
                            throw new IllegalStateException("the wrapper fails");
                        case 5:
                            snapshots.add(a.snapshot());
                            break;
                        case 6:
                        {
                            final Droplet d = nth(droplets, p[5]);
                            if (d != null)
                            {
                                d.close();
                            }
                            break;
                        }
                        default:
                            scratch(a, p);
                    }
                }
                finally
                {
                    lift();
                }
            });
            return Integer.toString(behaviour);
        }

        static boolean alive(final LakeAllocator a)
        {
            try
            {
                return a.alive();
            }
            catch (final RuntimeException confined)
            {
                return false;
            }
        }

        /** Everything a rewind could change, floors excepted. */
        String state()
        {
            final StringBuilder b = new StringBuilder();
            b.append("open=").append(lake.isOpen());
            for (int k = 0; k < allocators.size(); k++)
            {
                final LakeAllocator a = allocators.get(k);
                b.append(" [a").append(k).append(" alive=").append(alive(a)).append(" off=").append(a.offset)
                    .append(" gen=").append(a.generation).append(" zero=").append(a.zeroing)
                    .append(" dirty=").append(a.dirtyEnd).append(" fast=").append(a.fastLimit)
                    .append(" epochs=").append(Arrays.toString(
                        Arrays.copyOf((long[])get(EPOCHS, a), 2 * getInt(EPOCH_DEPTH, a))))
                    .append(" viewTop=").append(getInt(VIEW_TOP, a))
                    .append(" marks=").append(Arrays.toString(
                        Arrays.copyOf((int[])get(MARKS, a), getInt(MARK_DEPTH, a))))
                    .append(" sandboxes=").append(Arrays.toString(
                        Arrays.stream((long[])get(STARTS, a)).limit(getInt(SANDBOX_DEPTH, a)).mapToInt(x -> (int)x)
                            .toArray()))
                    .append(']');
            }
            b.append(" droplets=");
            for (final Droplet d : droplets)
            {
                b.append(alive(d.allocator()) && d.isValid() ? '1' : '0');
            }
            b.append(" snapshots=");
            for (final LakeSnapshot s : snapshots)
            {
                final LakeAllocator a = s.allocator();
                b.append(alive(a) && a.holds(s.epochIndex(), s.epochId(), s.position()) ? '1' : '0');
            }
            b.append(" sandboxes=");
            for (final Sandbox s : sandboxes)
            {
                b.append(alive(s.allocator()) && s.isOpen() ? '1' : '0');
            }
            b.append(" tokens=");
            for (final long[] t : tokens)
            {
                final LakeAllocator a = allocators.get((int)t[0]);
                b.append(alive(a) && a.sandboxActive((int)(t[1] & LakeAllocator.MAX_TOKEN_DEPTH), t[1] >>> 16) ?
                    '1' : '0');
            }
            if (lake.isOpen())
            {
                final byte[] bytes = new byte[lake.capacity()];
                lake.buffer().getBytes(0, bytes);
                b.append(" bytes=").append(Arrays.hashCode(bytes));
            }
            return b.toString();
        }

        void checkFloors(final String when)
        {
            for (final LakeAllocator a : allocators)
            {
                if (alive(a))
                {
                    assertFloorSafe(a, when);
                }
            }
        }
    }

    private static final int[] SCOPE_HEAVY = {
        0, 1, 2, 3, 5, 8, 10, 11, 13, 14, 15, 16, 16, 17, 18, 19, 20, 21, 22, 24, 25, 26, 27, 31, 32, 34, 37,
        38, 38, 38, 39, 39, 40, 40, 40};

    /** Runs {@code tries} sequences from {@code seed}; returns the steps run and the short rewinds among them. */
    static long[] fuzz(final long seed, final int tries, final int maxSteps)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        long steps = 0;
        long shortRewinds = 0;
        for (int t = 0; t < tries; t++)
        {
            final int capacity = t % 2 == 0 ? 4096 : 1024;
            final boolean zeroing = t % 5 == 0;
            final int length = 1 + random.nextInt(maxSteps);
            final List<String> done = new ArrayList<>();
            try (World shipped = new World(false, capacity, zeroing); World full = new World(true, capacity, zeroing))
            {
                for (int s = 0; s < length; s++)
                {
                    final int[] p = new int[7];
                    p[0] = random.nextInt(1 << 20);
                    // every other sequence mostly opens and closes scopes over plain allocations, so that the floor
                    // stays low between rewinds (each handle above the cap lifts it)
                    p[1] = t % 2 == 0 ? random.nextInt(42) : SCOPE_HEAVY[random.nextInt(SCOPE_HEAVY.length)];
                    for (int k = 2; k < p.length; k++)
                    {
                        p[k] = random.nextInt(1 << 20);
                    }
                    final String a = shipped.apply(p);
                    final String b = full.apply(p);
                    done.add(a);
                    final String context = "seed " + seed + ", sequence " + t + ", step " + s + " after " +
                        done.subList(Math.max(0, done.size() - 12), done.size());
                    assertEquals(b, a, () -> "the call answered differently; " + context);
                    final String stateA = shipped.state();
                    final String stateB = full.state();
                    assertEquals(stateB, stateA, () -> "the state differs from the full rewinds'; " + context);
                    shipped.checkFloors(context);
                }
                shortRewinds += shipped.shortRewinds;
            }
            steps += length;
        }
        return new long[] {steps, shortRewinds};
    }

    @Test
    void randomSequencesRewindAsTheFullPathDoesAndKeepTheFloorSafe()
    {
        final long seed = Long.getLong("lake.floor12.seed", 0x12F1_00C0_2026_1206L);
        final int tries = Integer.getInteger("lake.floor12.tries", 1500);
        final long[] ran = fuzz(seed, tries, 120);
        System.out.println("TwelfthRewindFloorReviewTest: seed " + seed + ", " + tries + " sequences, " + ran[0] +
            " steps, about " + ran[1] + " rewinds on the short path");
        assertTrue(ran[1] > 1000, "the sequences exercise the short path: " + ran[1]);
    }

    // ------------------------------------------------------------------------------------------------------
    // Hostile sequences written out
    // ------------------------------------------------------------------------------------------------------

    /** A snapshot at {@code start + 64} rewound to once: {@code a}'s floor is then exactly there. */
    private static LakeSnapshot floorAt64(final LakeAllocator a)
    {
        a.allocate(64);
        final LakeSnapshot at64 = a.snapshot();
        a.allocate(64);
        a.rewind(at64);
        assertEquals(a.start() + 64, a.position());
        assertEquals(a.isZeroing() ? UNCAPPED : a.start() + 64, floor(a), "the full rewind set the floor exactly");
        return at64;
    }

    @Test
    void aScopeOpenedAndClosedAtOnePositionKeepsTheFloorThere()
    {
        // the point of b3e4525: without the exact floor set by the full rewind every rewind here would be full
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            for (int i = 0; i < 3; i++)
            {
                lake.mark();
                lake.allocate(64);
                lake.resetToMark();
                try (Sandbox sandbox = lake.sandbox())
                {
                    lake.allocate(64);
                }
                final long token = lake.beginSandbox();
                lake.allocate(64);
                lake.endSandbox(token);
                lake.allocate(64);
                lake.rewind(at64);
                assertEquals(64, lake.position());
                assertEquals(64, floor(lake), "round " + i);
                assertFloorSafe(lake, "round " + i);
            }
            assertEquals(0, lake.markDepth());
            assertEquals(0, lake.openSandboxes());
        }
    }

    @Test
    void viewsOfViewsDieExactlyBelowTheirEndsWhateverTheFloors()
    {
        try (Lake lake = Lake.of(8192))
        {
            final LakeSnapshot lakeAt64 = floorAt64(lake);
            final LakeView outer = lake.split(2048); // [64, 2112): a new epoch above the lake's cap
            final LakeSnapshot outerAt128 = floorAt64(outer);
            final LakeView inner = outer.split(512);
            final Droplet innerDroplet = inner.droplet(64);
            final LakeSnapshot atInnerEnd = outer.snapshot(); // at the inner view's end
            outer.allocate(64);
            outer.rewind(atInnerEnd); // caps the outer's top epoch exactly at the inner view's end
            assertEquals(inner.limit(), floor(outer));
            outer.allocate(64);
            outer.rewind(atInnerEnd); // the short path: the inner view must survive it
            assertTrue(inner.isValid());
            assertTrue(innerDroplet.isValid());
            // now one byte of the inner view given back: the full path, and both die
            outer.rewind(outerAt128);
            assertFalse(inner.isValid());
            assertFalse(innerDroplet.isValid());
            assertThrows(StaleHandleException.class, inner::mark);
            assertThrows(StaleHandleException.class, () -> innerDroplet.getLong(0));
            assertTrue(outer.isValid());
            // the lake: a rewind exactly to the outer view's end keeps it, one below kills it
            final LakeSnapshot atOuterEnd = lake.snapshot();
            lake.allocate(8);
            lake.rewind(atOuterEnd);
            lake.allocate(8);
            lake.rewind(atOuterEnd);
            assertTrue(outer.isValid());
            lake.rewind(lakeAt64);
            assertFalse(outer.isValid());
            assertThrows(StaleHandleException.class, outer::snapshot);
        }
    }

    @Test
    void sandboxTokensAtTheFloorSurviveARewindToItAndDieBelowIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            final long atFloor = lake.beginSandbox(); // at 64: the floor stays 64
            assertEquals(64, floor(lake));
            lake.allocate(64);
            final long above = lake.beginSandbox(); // at 128: the floor rises
            lake.allocate(64);
            lake.endSandbox(above); // back to 128
            lake.allocate(64);
            final long again = lake.beginSandbox();
            lake.allocate(64);
            lake.rewind(at64); // below the token at 128 (the floor is 192), to the token at 64
            assertEquals(1, lake.openSandboxes());
            assertThrows(StaleHandleException.class, () -> lake.commitSandbox(again));
            lake.allocate(64);
            lake.commitSandbox(atFloor);
            assertEquals(0, lake.openSandboxes());
        }
    }

    @Test
    void aWriterThatMarksOrSnapshotsAtThePositionRaisesTheFloor()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.allocate(64); // at 128
            final LakeSnapshot[] inside = new LakeSnapshot[1];
            final Droplet kept = lake.process((buffer, offset, capacity) ->
            {
                lake.mark(); // at 128, above the floor of 64: allowed, nothing moved
                inside[0] = lake.snapshot();
                buffer.putLong(offset, 42L);
                return 8;
            });
            assertEquals(1, lake.markDepth());
            assertFloorSafe(lake, "after the writer");
            lake.rewind(at64); // below the writer's mark and snapshot
            assertEquals(0, lake.markDepth(), "the writer's mark at 128 is gone");
            assertFalse(kept.isValid());
            assertThrows(StaleHandleException.class, () -> lake.rewind(inside[0]));
        }
    }

    @Test
    void aFailedPlacementUndoesASnapshotTakenAtItsEndOverAFloorAtItsStart()
    {
        try (Lake lake = Lake.of(4096))
        {
            floorAt64(lake);
            final LakeSnapshot[] atEnd = new LakeSnapshot[1];
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8, (flyweight, buffer, offset) ->
            {
                atEnd[0] = lake.snapshot();
                throw new IllegalStateException("the wrapper fails");
            }));
            assertEquals(64, lake.position());
            assertThrows(StaleHandleException.class, () -> lake.rewind(atEnd[0]));
            // and a wrapper that rewinds to exactly the floor below its placement is refused, the placement undone
            final LakeSnapshot at64 = lake.snapshot();
            assertThrows(IllegalStateException.class, () -> lake.place(new Object(), 64, 8,
                (flyweight, buffer, offset) ->
                {
                    lake.rewind(at64);
                    lake.allocate(128); // past the placement's end again
                }));
            assertEquals(64, lake.position());
        }
    }

    @Test
    void zeroingSwitchedOnInAViewOrRestoredByClearWipesAtTheFloor()
    {
        try (Lake lake = Lake.of(8192))
        {
            final LakeView view = lake.split(4096);
            final LakeSnapshot at64 = floorAt64(view);
            final int at = view.allocate(64);
            view.buffer().putLong(at, -1L);
            view.setZeroing(true);
            view.rewind(at64); // at the floor the lake had before zeroing went on
            assertEquals(0L, view.buffer().getLong(at));
            view.clear();
            final LakeSnapshot again = floorAt64(view);
            final int next = view.allocate(64);
            view.buffer().putLong(next, -1L);
            assertEquals(UNCAPPED, floor(view), "zeroing: no short rewind");
            view.rewind(again);
            assertEquals(0L, view.buffer().getLong(next), "a zeroing view still wipes after clear()");
            view.setZeroing(false);
            view.allocate(64);
            view.rewind(again);
            assertFloorSafe(view, "zeroing off again");
        }
    }

    @Test
    void confinementChangesInTheMiddleOfAScopeKeepItsRules()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeSnapshot at64 = floorAt64(lake);
            lake.allocate(64);
            lake.mark();
            lake.confineTo(Thread.currentThread());
            final Droplet droplet = lake.droplet(64);
            lake.confineTo(null);
            lake.rewind(at64);
            assertEquals(0, lake.markDepth());
            assertFalse(droplet.isValid());
            assertFloorSafe(lake, "after the rewind");
        }
    }

    @Test
    void aPooledThreadLakeRewindsFullyForItsNextOwner() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build())
        {
            final Lake first = lakes.init();
            floorAt64(first);
            first.mark();
            first.setZeroing(true);
            first.allocate(64);
            lakes.release(); // reset, marks popped, pooled
            final Lake second = lakes.init(); // the same lake from the pool, zeroing off again
            assertSame(first, second);
            assertFloorSafe(second, "handed on");
            final LakeSnapshot at64 = floorAt64(second);
            second.allocate(64);
            final LakeView view = second.split(256);
            final Droplet droplet = view.droplet(8);
            second.rewind(at64);
            assertFalse(view.isValid());
            assertFalse(droplet.isValid());
            assertEquals(0, second.markDepth());
            lakes.release();
        }
    }
}
