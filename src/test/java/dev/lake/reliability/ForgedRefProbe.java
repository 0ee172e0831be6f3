package dev.lake.reliability;

import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Child-JVM probe of {@link ForgedTokenTest}: a seeded fuzz of every primitive-tier accessor of
 * {@link SliceAllocator} and of {@link SliceReader#bind}/{@link SliceReader#adopt} with forged, foreign, stale and
 * garbage references, interleaved with legitimate allocation and release (so chunks are reset in place, freed, and
 * their table slots and memory reused). Element values are negative, so that no slice's data reads as a slice
 * header (a forged reference into such data is a separate, reported finding). Every call with a value that is not
 * a live reference must throw {@link StaleHandleException} (or answer {@code false} for {@code isLive}) and change
 * nothing: live references keep their elements, the live slice bytes stay exact. Prints {@code PROBE OK} or
 * {@code PROBE FAILED} with the seed.
 */
public final class ForgedRefProbe
{
    private static final class Live
    {
        final long ref;
        final int length;
        final long base;
        int refs = 1;

        Live(final long ref, final int length, final long base)
        {
            this.ref = ref;
            this.length = length;
            this.base = base;
        }
    }

    private ForgedRefProbe()
    {
    }

    public static void main(final String[] args)
    {
        final long seed = Long.parseLong(args[0]);
        final int steps = Integer.parseInt(args[1]);
        try
        {
            final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
            final SliceAllocator same = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
            final SliceAllocator different = SliceAllocator.builder(ElementLayout.INT).chunkCapacity(100).build();
            final List<Long> foreign = new ArrayList<>();
            foreign.add(same.allocateLongsRef(3, i -> -1L));
            foreign.add(different.allocateIntsRef(5, i -> -1));
            fuzz(alloc, foreign, seed, steps);
            same.release(foreign.get(0));
            different.release(foreign.get(1));
            same.close();
            different.close();
            System.out.println("PROBE OK");
        }
        catch (final Throwable t)
        {
            System.out.println("PROBE FAILED (seed " + seed + "): " + t);
            t.printStackTrace(System.out);
            System.exit(3);
        }
    }

    private static void fuzz(final SliceAllocator alloc, final List<Long> foreign, final long seed, final int steps)
    {
        final Random random = new Random(seed);
        final List<Live> live = new ArrayList<>();
        final List<Long> dead = new ArrayList<>();
        // per chunk (its generation and slot: a reset in place is a new key), the end of the last slice put in it
        final Map<Long, Integer> allocatedEnd = new HashMap<>();
        final SliceReader reader = new SliceReader();
        long liveBytes = 0;
        for (int step = 0; step < steps; step++)
        {
            if (random.nextInt(2) == 0 || live.isEmpty())
            {
                final int op = live.isEmpty() ? 0 : random.nextInt(3);
                if (op == 0)
                {
                    // up to 100 elements: some slices take a dedicated chunk of their own
                    final int n = 1 + random.nextInt(random.nextInt(8) == 0 ? 100 : 20);
                    final long base = -1L - random.nextInt(1 << 20) * 1024L;
                    final long ref = alloc.allocateLongsRef(n, i -> base - i);
                    allocatedEnd.merge(ref >>> OFFSET_BITS, dataOf(ref) + 8 * n, Math::max);
                    live.add(new Live(ref, n, base));
                    liveBytes += 8L * n;
                }
                else if (op == 1)
                {
                    final Live l = live.get(random.nextInt(live.size()));
                    alloc.retain(l.ref);
                    l.refs++;
                }
                else
                {
                    final int i = random.nextInt(live.size());
                    final Live l = live.get(i);
                    alloc.release(l.ref);
                    if (--l.refs == 0)
                    {
                        live.remove(i);
                        dead.add(l.ref);
                        liveBytes -= 8L * l.length;
                    }
                }
                continue;
            }
            final long forged = forge(random, live, dead, foreign);
            boolean isLive = forged == SliceAllocator.EMPTY_REF;
            for (final Live l : live)
            {
                isLive |= l.ref == forged;
            }
            if (isLive)
            {
                continue;
            }
            final String where = "step " + step + " seed " + seed + " ref 0x" + Long.toHexString(forged);
            final Integer end = allocatedEnd.get(forged >>> OFFSET_BITS);
            forgedCall(alloc, reader, random, forged, where, end != null && dataOf(forged) > end);
            check(alloc, reader, live, liveBytes, where);
        }
        for (final Live l : live)
        {
            for (int r = 0; r < l.refs; r++)
            {
                alloc.release(l.ref);
            }
            dead.add(l.ref);
        }
        alloc.close();
        for (final long ref : dead)
        {
            forgedCall(alloc, reader, random, ref, "after close, seed " + seed, false);
        }
        if (alloc.stats().liveSliceBytes() != 0 || alloc.stats().liveChunks() != 0)
        {
            throw new AssertionError("after close: " + alloc.stats());
        }
    }

    private static final int OFFSET_BITS = 28;

    /** A reference's data offset in its chunk: its low 28 bits count 8-byte words. */
    private static int dataOf(final long ref)
    {
        return (int)(ref & ((1L << OFFSET_BITS) - 1)) << 3;
    }

    private static long forge(final Random random, final List<Live> live, final List<Long> dead,
        final List<Long> foreign)
    {
        final long base = !live.isEmpty() && random.nextBoolean() ? live.get(random.nextInt(live.size())).ref :
            !dead.isEmpty() ? dead.get(random.nextInt(dead.size())) : random.nextLong();
        final long offsetMask = (1L << 28) - 1;
        switch (random.nextInt(14))
        {
            case 0:
                return random.nextLong();
            case 1:
                return random.nextLong() >>> random.nextInt(64);
            case 2:
                return dead.isEmpty() ? base : dead.get(random.nextInt(dead.size()));
            case 3:
                return base + 1 + random.nextInt(30); // into the slice's own data (negative: never a header)
            case 4:
                return base - 1 - random.nextInt(4);
            case 5:
                return base + (1L << 48);   // the next generation
            case 6:
                return base - (1L << 48);   // the previous one
            case 7:
                return base & ((1L << 48) - 1); // generation 0
            case 8:
                return base ^ (1L << (28 + random.nextInt(20))); // another table slot
            case 9:
                return foreign.get(random.nextInt(foreign.size()));
            case 10:
                return base & ~offsetMask | (offsetMask - random.nextInt(3)); // offset past any chunk
            case 11:
                return base & ~offsetMask | random.nextInt(2); // offset 0 or 8: no room for a header
            case 12:
                return new long[] {Long.MIN_VALUE, Long.MAX_VALUE, -1L, 1L, offsetMask, 1L << 48}[random.nextInt(6)];
            default:
                return -base;
        }
    }

    private static void forgedCall(final SliceAllocator alloc, final SliceReader reader, final Random random,
        final long ref, final String where, final boolean pastEnd)
    {
        final int op = random.nextInt(13);
        if (pastEnd && (op == 1 || op == 2 || op == 3 || op == 11 || op == 12))
        {
            // a single-element read past the last slice of its chunk may find a header-shaped word there (whatever
            // the memory held before) and read it: the documented limit; every call that changes a count, isLive
            // and the bulk copies refuse such a reference, and are probed
            return;
        }
        if (op == 0)
        {
            if (alloc.isLive(ref))
            {
                throw new AssertionError(where + ": isLive of a dead reference");
            }
            return;
        }
        try
        {
            switch (op)
            {
                case 1:
                    alloc.length(ref);
                    break;
                case 2:
                    alloc.getLong(ref, 0);
                    break;
                case 3:
                    alloc.getInt(ref, 0);
                    break;
                case 4:
                    alloc.retain(ref);
                    break;
                case 5:
                    alloc.release(ref);
                    break;
                case 6:
                    alloc.toHandle(ref);
                    break;
                case 7:
                    alloc.getLongs(ref, 0, new long[1], 0, 1);
                    break;
                case 8:
                    alloc.getBytes(ref, 0, new UnsafeBuffer(new byte[8]), 0, 8);
                    break;
                case 9:
                    reader.bind(alloc, ref);
                    break;
                case 10:
                    reader.adopt(alloc, ref);
                    break;
                case 11:
                    alloc.getDouble(ref, 0);
                    break;
                default:
                    alloc.getByte(ref, 0);
                    break;
            }
        }
        catch (final StaleHandleException expected)
        {
            if (reader.isBound())
            {
                throw new AssertionError(where + ": op " + op + " left the reader bound");
            }
            return;
        }
        catch (final RuntimeException wrong)
        {
            throw new AssertionError(where + ": op " + op + " threw " + wrong, wrong);
        }
        throw new AssertionError(where + ": op " + op + " was accepted");
    }

    private static void check(final SliceAllocator alloc, final SliceReader reader, final List<Live> live,
        final long liveBytes, final String where)
    {
        if (alloc.stats().liveSliceBytes() != liveBytes)
        {
            throw new AssertionError(where + ": live slice bytes " + alloc.stats().liveSliceBytes() + ", model " +
                liveBytes);
        }
        for (final Live l : live)
        {
            if (alloc.length(l.ref) != l.length || !alloc.isLive(l.ref))
            {
                throw new AssertionError(where + ": live reference 0x" + Long.toHexString(l.ref) + " changed");
            }
            try (SliceReader r = reader.bind(alloc, l.ref))
            {
                for (int i = 0; i < l.length; i++)
                {
                    if (r.getLong(i) != l.base - i)
                    {
                        throw new AssertionError(where + ": element " + i + " of 0x" + Long.toHexString(l.ref));
                    }
                }
            }
        }
    }
}
