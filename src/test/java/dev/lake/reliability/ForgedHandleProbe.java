package dev.lake.reliability;

import dev.lake.memory.StaleHandleException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Child-JVM probe of {@link ForgedTokenTest}: a seeded fuzz of every handle-tier accessor of {@link FixedArena} and
 * {@link BuddyArena} with forged, foreign, stale and garbage {@code long}s, interleaved with legitimate use. Every
 * call with a value that is not a live handle must throw {@link StaleHandleException} (or answer {@code false} for
 * {@code isLive}) and change nothing: every live handle keeps its bytes, the live count stays. Prints
 * {@code PROBE OK} or {@code PROBE FAILED} with the seed; a crash shows as the child's exit status.
 */
public final class ForgedHandleProbe
{
    /** Either arena behind one set of calls (their common base class is not public). */
    private static final class A
    {
        final FixedArena f;
        final BuddyArena b;

        A(final FixedArena f, final BuddyArena b)
        {
            this.f = f;
            this.b = b;
        }

        long alloc(final int size)
        {
            return f != null ? f.tryAllocateHandle() : b.tryAllocateHandle(size);
        }

        int capacity(final long h)
        {
            return f != null ? f.slotCapacity() : b.handleCapacity(h);
        }

        int live()
        {
            return f != null ? f.liveSlots() : (int)b.metrics().liveBlocks();
        }

        boolean isLive(final long h)
        {
            return f != null ? f.isLive(h) : b.isLive(h);
        }

        int offset(final long h)
        {
            return f != null ? f.offset(h) : b.offset(h);
        }

        int length(final long h)
        {
            return f != null ? f.length(h) : b.length(h);
        }

        void putLong(final long h, final int i, final long v)
        {
            if (f != null)
            {
                f.putLong(h, i, v);
            }
            else
            {
                b.putLong(h, i, v);
            }
        }

        void putInt(final long h, final int i, final int v)
        {
            if (f != null)
            {
                f.putInt(h, i, v);
            }
            else
            {
                b.putInt(h, i, v);
            }
        }

        void putByte(final long h, final int i, final byte v)
        {
            if (f != null)
            {
                f.putByte(h, i, v);
            }
            else
            {
                b.putByte(h, i, v);
            }
        }

        void putBytes(final long h, final int i, final byte[] src)
        {
            if (f != null)
            {
                f.putBytes(h, i, src, 0, src.length);
            }
            else
            {
                b.putBytes(h, i, src, 0, src.length);
            }
        }

        void putBytesBuffer(final long h, final int i, final byte[] src)
        {
            if (f != null)
            {
                f.putBytes(h, i, new UnsafeBuffer(src), 0, src.length);
            }
            else
            {
                b.putBytes(h, i, new UnsafeBuffer(src), 0, src.length);
            }
        }

        long getLong(final long h, final int i)
        {
            return f != null ? f.getLong(h, i) : b.getLong(h, i);
        }

        int getInt(final long h, final int i)
        {
            return f != null ? f.getInt(h, i) : b.getInt(h, i);
        }

        byte getByte(final long h, final int i)
        {
            return f != null ? f.getByte(h, i) : b.getByte(h, i);
        }

        void getBytes(final long h, final int i, final byte[] dst)
        {
            if (f != null)
            {
                f.getBytes(h, i, dst, 0, dst.length);
            }
            else
            {
                b.getBytes(h, i, dst, 0, dst.length);
            }
        }

        void getBytesBuffer(final long h, final int i, final int n, final boolean expandable)
        {
            if (f != null)
            {
                f.getBytes(h, i, expandable ? new ExpandableArrayBuffer(4) : new UnsafeBuffer(new byte[n]), 0, n);
            }
            else
            {
                b.getBytes(h, i, expandable ? new ExpandableArrayBuffer(4) : new UnsafeBuffer(new byte[n]), 0, n);
            }
        }

        void freeze(final long h, final int n)
        {
            if (f != null)
            {
                f.freezeHandle(h, n);
            }
            else
            {
                b.freezeHandle(h, n);
            }
        }

        void retain(final long h)
        {
            if (f != null)
            {
                f.retain(h);
            }
            else
            {
                b.retain(h);
            }
        }

        void release(final long h)
        {
            if (f != null)
            {
                f.release(h);
            }
            else
            {
                b.release(h);
            }
        }

        int slots()
        {
            return f != null ? f.slotCount() : b.totalBytes() / b.minBlock();
        }

        void close()
        {
            if (f != null)
            {
                f.close();
            }
            else
            {
                b.close();
            }
        }
    }

    /** A live handle of the model: its bytes, frozen length (-1 writing) and references. */
    private static final class Live
    {
        final long handle;
        final byte[] bytes;
        int frozen = -1;
        int refs = 1;

        Live(final long handle, final int capacity)
        {
            this.handle = handle;
            this.bytes = new byte[capacity];
        }
    }

    private ForgedHandleProbe()
    {
    }

    public static void main(final String[] args)
    {
        final long seed = Long.parseLong(args[0]);
        final int steps = Integer.parseInt(args[1]);
        final String what = "seed " + seed;
        try
        {
            for (final InitPolicy policy : InitPolicy.values())
            {
                final FixedArena other = FixedArena.builder(64, 32).initPolicy(policy).leakDetection(false).build();
                final BuddyArena otherBuddy = BuddyArena.builder(4096, 16).leakDetection(false).build();
                fuzz(new A(FixedArena.builder(70, 32).initPolicy(policy).leakDetection(false).build(), null),
                    new A(other, null), new A(null, otherBuddy), seed, steps);
                fuzz(new A(null, BuddyArena.builder(4096, 16).initPolicy(policy).leakDetection(false).build()),
                    new A(null, otherBuddy), new A(other, null), seed, steps);
                other.close();
                otherBuddy.close();
            }
            System.out.println("PROBE OK");
        }
        catch (final Throwable t)
        {
            System.out.println("PROBE FAILED (" + what + "): " + t);
            t.printStackTrace(System.out);
            System.exit(3);
        }
    }

    private static void fuzz(final A arena, final A same, final A different, final long seed, final int steps)
    {
        final Random random = new Random(seed);
        final List<Live> live = new ArrayList<>();
        final List<Long> dead = new ArrayList<>();
        // a few handles of the two other arenas: same and different geometry
        final List<Long> foreign = new ArrayList<>();
        for (final A o : new A[] {same, different})
        {
            final long h = o.alloc(16);
            if (h != 0)
            {
                foreign.add(h);
            }
        }
        for (int step = 0; step < steps; step++)
        {
            final int op = random.nextInt(10);
            if (op < 5)
            {
                legit(arena, random, live, dead);
            }
            else
            {
                final long forged = forge(arena, random, live, dead, foreign);
                if (isLiveInModel(live, forged))
                {
                    continue; // a forged value that happens to be a live handle is that handle
                }
                forgedCall(arena, random, forged, live, "step " + step + " seed " + seed);
                check(arena, live, dead, "after step " + step + " seed " + seed + " with 0x" + Long.toHexString(forged));
            }
        }
        // closed and rebuilt: the old arena object refuses its old handles, also after its region was freed
        for (final Live l : live)
        {
            for (int r = 0; r < l.refs; r++)
            {
                arena.release(l.handle);
            }
            dead.add(l.handle);
        }
        live.clear();
        arena.close();
        final A rebuilt = arena.f != null ?
            new A(FixedArena.builder(arena.f.slotCount(), arena.f.slotCapacity()).leakDetection(false).build(), null) :
            new A(null, BuddyArena.builder(arena.b.totalBytes(), arena.b.minBlock()).leakDetection(false).build());
        final List<Live> fresh = new ArrayList<>();
        for (int i = 0; i < 8; i++)
        {
            final long h = rebuilt.alloc(16);
            final Live l = new Live(h, rebuilt.capacity(h));
            Arrays.fill(l.bytes, (byte)(i + 1));
            rebuilt.putBytes(h, 0, l.bytes);
            fresh.add(l);
        }
        for (final long h : dead)
        {
            forgedCall(arena, random, h, live, "old handle on the closed arena, seed " + seed);
        }
        check(rebuilt, fresh, new ArrayList<>(), "rebuilt arena, seed " + seed);
        for (final Live l : fresh)
        {
            rebuilt.release(l.handle);
        }
        rebuilt.close();
    }

    private static boolean isLiveInModel(final List<Live> live, final long h)
    {
        for (final Live l : live)
        {
            if (l.handle == h)
            {
                return true;
            }
        }
        return false;
    }

    private static long forge(final A arena, final Random random, final List<Live> live, final List<Long> dead,
        final List<Long> foreign)
    {
        final long base = !live.isEmpty() && random.nextBoolean() ? live.get(random.nextInt(live.size())).handle :
            !dead.isEmpty() ? dead.get(random.nextInt(dead.size())) : random.nextLong();
        final long slotMask = (1L << 28) - 1;
        final long generation = base >>> 28;
        final int slot = (int)(base & slotMask);
        switch (random.nextInt(16))
        {
            case 0:
                return random.nextLong();
            case 1:
                return random.nextLong() >>> random.nextInt(64);
            case 2:
                return dead.isEmpty() ? base : dead.get(random.nextInt(dead.size()));
            case 3:
                return generation << 28 | random.nextInt(arena.slots() + 3); // another slot, same generation
            case 4:
                return (generation + 1) << 28 | slot;
            case 5:
                return (generation - 1) << 28 | slot;
            case 6:
                return slot; // generation 0
            case 7:
                return base | 1L << 27; // the parked bit of a meta word, as a slot bit
            case 8:
                return ((1L << 35) - 1) << 28 | slot; // the largest generation
            case 9:
                return (long)random.nextInt(arena.slots() + 3) | ((long)random.nextInt(4) << 28);
            case 10:
                return foreign.isEmpty() ? base : foreign.get(random.nextInt(foreign.size()));
            case 11:
                return -base;
            case 12:
                return base | Long.MIN_VALUE;
            case 13:
                return new long[] {Long.MIN_VALUE, Long.MAX_VALUE, -1L, 1L, slotMask, slotMask + 1}[random.nextInt(6)];
            case 14:
                return generation << 28 | (slot + 1 + random.nextInt(3)); // inside a buddy block, not at its start
            default:
                return generation << 28 | arena.slots() | (long)random.nextInt(3);
        }
    }

    private static void forgedCall(final A a, final Random random, final long h, final List<Live> live, final String where)
    {
        final int op = random.nextInt(17);
        final int index = random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(16);
        if (op == 0)
        {
            if (a.isLive(h))
            {
                throw new AssertionError(where + ": isLive(0x" + Long.toHexString(h) + ") of a dead handle");
            }
            return;
        }
        try
        {
            switch (op)
            {
                case 1:
                    a.offset(h);
                    break;
                case 2:
                    a.length(h);
                    break;
                case 3:
                    a.putLong(h, index & 15, random.nextLong());
                    break;
                case 4:
                    a.putInt(h, index & 15, random.nextInt());
                    break;
                case 5:
                    a.putByte(h, index & 15, (byte)random.nextInt());
                    break;
                case 6:
                    a.putBytes(h, 0, new byte[1 + random.nextInt(16)]);
                    break;
                case 7:
                    a.putBytesBuffer(h, 0, new byte[1 + random.nextInt(16)]);
                    break;
                case 8:
                    a.getLong(h, index & 7);
                    break;
                case 9:
                    a.getInt(h, index & 7);
                    break;
                case 10:
                    a.getByte(h, index & 7);
                    break;
                case 11:
                    a.getBytes(h, 0, new byte[random.nextInt(8)]);
                    break;
                case 12:
                    a.getBytesBuffer(h, 0, random.nextInt(8), random.nextBoolean());
                    break;
                case 13:
                    a.freeze(h, random.nextInt(8));
                    break;
                case 14:
                    a.retain(h);
                    break;
                case 15:
                    a.release(h);
                    break;
                default:
                    if (a.b != null)
                    {
                        a.b.handleCapacity(h);
                    }
                    else
                    {
                        throw new StaleHandleException("skip");
                    }
                    break;
            }
        }
        catch (final StaleHandleException expected)
        {
            return;
        }
        catch (final RuntimeException wrong)
        {
            throw new AssertionError(where + ": op " + op + " with 0x" + Long.toHexString(h) + " threw " + wrong, wrong);
        }
        throw new AssertionError(where + ": op " + op + " with 0x" + Long.toHexString(h) + " was accepted");
    }

    private static void legit(final A a, final Random random, final List<Live> live, final List<Long> dead)
    {
        final int op = live.isEmpty() ? 0 : random.nextInt(5);
        switch (op)
        {
            case 0:
            {
                final long h = a.alloc(1 + random.nextInt(200));
                if (h != 0)
                {
                    final Live l = new Live(h, a.capacity(h));
                    live.add(l);
                    if (a.f != null && a.f.initPolicy() == InitPolicy.ZERO || a.b != null && a.b.initPolicy() == InitPolicy.ZERO)
                    {
                        for (int i = 0; i < l.bytes.length; i++)
                        {
                            if (a.getByte(h, i) != 0)
                            {
                                throw new AssertionError("a fresh ZERO slot reads " + a.getByte(h, i) + " at " + i);
                            }
                        }
                    }
                    else
                    {
                        a.getBytes(h, 0, l.bytes); // whatever an UNINIT slot holds
                    }
                }
                break;
            }
            case 1:
            {
                final Live l = live.get(random.nextInt(live.size()));
                if (l.frozen < 0)
                {
                    final byte[] src = new byte[1 + random.nextInt(Math.min(16, l.bytes.length))];
                    random.nextBytes(src);
                    final int at = random.nextInt(l.bytes.length - src.length + 1);
                    a.putBytes(l.handle, at, src);
                    System.arraycopy(src, 0, l.bytes, at, src.length);
                }
                break;
            }
            case 2:
            {
                final Live l = live.get(random.nextInt(live.size()));
                if (l.frozen < 0)
                {
                    l.frozen = random.nextInt(l.bytes.length + 1);
                    a.freeze(l.handle, l.frozen);
                }
                else
                {
                    a.retain(l.handle);
                    l.refs++;
                }
                break;
            }
            default:
            {
                final int i = random.nextInt(live.size());
                final Live l = live.get(i);
                a.release(l.handle);
                if (--l.refs == 0)
                {
                    live.remove(i);
                    dead.add(l.handle);
                }
                break;
            }
        }
    }

    private static void check(final A a, final List<Live> live, final List<Long> dead, final String where)
    {
        if (a.f != null && !a.f.isClosed() || a.b != null && !a.b.isClosed())
        {
            final int count = a.live();
            if (count != live.size())
            {
                throw new AssertionError(where + ": " + count + " live, the model has " + live.size());
            }
        }
        for (final Live l : live)
        {
            final int n = l.frozen < 0 ? l.bytes.length : l.frozen;
            final byte[] got = new byte[n];
            a.getBytes(l.handle, 0, got);
            if (!Arrays.equals(got, Arrays.copyOf(l.bytes, n)))
            {
                throw new AssertionError(where + ": live handle 0x" + Long.toHexString(l.handle) + " changed");
            }
            if (a.length(l.handle) != l.frozen)
            {
                throw new AssertionError(where + ": live handle 0x" + Long.toHexString(l.handle) + " length " +
                    a.length(l.handle) + ", model " + l.frozen);
            }
        }
        for (final long h : dead)
        {
            if (a.isLive(h) && !isLiveInModel(live, h))
            {
                throw new AssertionError(where + ": dead handle 0x" + Long.toHexString(h) + " is live");
            }
        }
    }
}
