package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;


import static org.junit.jupiter.api.Assertions.*;

/**
 * The seventh hostile review of the pool: arithmetic and long-run extremes (reference counts at their limit,
 * generation wraps, the largest and smallest geometries, extreme indexes and lengths), the Javadoc's
 * {@code @throws} contracts, and references released on other threads while their arena closes. Tests that pin a
 * contract the code already kept say so; the others fail on the code before their fix.
 */
class SeventhReviewPoolTest
{
    private static int at(final int slot)
    {
        return slot << SlotTable.SHIFT;
    }

    /** Pin: a handle's reference count stops at 2^27 - 1 with an IllegalStateException, never wrapping into PARKED. */
    @Test
    void handleRetainAtTheCountLimitIsRefusedAndChangesNothing()
    {
        final FixedArena arena = FixedArena.builder(4, 64).build();
        final long h = arena.allocateHandle();
        arena.freezeHandle(h, 8);
        final int slot = SlotTable.slotOf(h);
        final long gen = SlotTable.generationOf(h);
        arena.slots[at(slot)] = gen << SlotTable.REF_BITS | (SlotTable.COUNT_MASK - 1);
        arena.retain(h);
        final long before = arena.slots[at(slot)];
        assertEquals(SlotTable.COUNT_MASK, before & SlotTable.COUNT_MASK);
        assertThrows(IllegalStateException.class, () -> arena.retain(h));
        assertEquals(before, arena.slots[at(slot)]);
        assertTrue(arena.isLive(h));
        assertEquals(8, arena.length(h));
        arena.slots[at(slot)] = gen << SlotTable.REF_BITS | 1;
        arena.release(h);
        assertFalse(arena.isLive(h));
        assertEquals(0, arena.liveSlots());
        arena.close();
        assertTrue(arena.isRegionFreed());
    }

    /** Pin: Bytes.retain and slice at the count limit are refused and change nothing; the counters stay exact. */
    @Test
    void bytesRetainAndSliceAtTheCountLimitAreRefused()
    {
        final FixedArena arena = FixedArena.builder(4, 64).build();
        final Buffer b = arena.allocate();
        b.putLong(7);
        final Bytes bytes = b.freeze();
        final int slot = b.slot;
        final long gen = b.generation;
        arena.slots[at(slot)] = gen << SlotTable.REF_BITS | SlotTable.COUNT_MASK;
        assertThrows(IllegalStateException.class, bytes::retain);
        assertThrows(IllegalStateException.class, () -> bytes.slice(0, 4));
        assertEquals(gen << SlotTable.REF_BITS | SlotTable.COUNT_MASK, arena.slots[at(slot)]);
        arena.slots[at(slot)] = gen << SlotTable.REF_BITS | 1;
        bytes.release();
        assertEquals(0, arena.liveSlots());
        final FixedArenaMetrics m = arena.metrics();
        assertEquals(1, m.allocations());
        assertEquals(1, m.frees());
        arena.close();
        assertTrue(arena.isRegionFreed());
    }

    /** Pin: a slot whose generation wraps keeps working, its old handle stays stale and frees stay exact. */
    @Test
    void generationWrapFixedHandles()
    {
        for (final InitPolicy p : InitPolicy.values())
        {
            final FixedArena arena = FixedArena.builder(1, 64).initPolicy(p).build();
            arena.slots[0] = SlotTable.GEN_MASK << SlotTable.REF_BITS;
            final FixedArenaMetrics m0 = arena.metrics();
            final long h = arena.allocateHandle();
            assertEquals(SlotTable.GEN_MASK, SlotTable.generationOf(h));
            arena.putLong(h, 0, 5);
            arena.freezeHandle(h, 8);
            assertEquals(5, arena.getLong(h, 0));
            arena.release(h);
            assertFalse(arena.isLive(h));
            final long h2 = arena.allocateHandle();
            assertNotEquals(h, h2);
            assertTrue(arena.isLive(h2));
            assertThrows(StaleHandleException.class, () -> arena.getLong(h, 0));
            arena.release(h2);
            final FixedArenaMetrics m1 = arena.metrics();
            assertEquals(m0.frees() + 2, m1.frees(), p.toString());
            assertEquals(m0.allocations() + 2, m1.allocations(), p.toString());
            assertEquals(0, m1.liveSlots());
            arena.close();
            assertTrue(arena.isRegionFreed());
        }
    }

    /** Pin: the same for a buddy arena, whose frees are counted, not derived from generations. */
    @Test
    void generationWrapBuddy()
    {
        final BuddyArena arena = BuddyArena.builder(64, 64).build();
        arena.slots[0] = SlotTable.GEN_MASK << SlotTable.REF_BITS;
        final long h = arena.allocateHandle(64);
        assertEquals(SlotTable.GEN_MASK, SlotTable.generationOf(h));
        arena.release(h);
        final Buffer b = arena.allocate(8);
        b.putLong(1);
        final Bytes bytes = b.freeze();
        assertFalse(arena.isLive(h));
        bytes.release();
        final BuddyArenaMetrics m = arena.metrics();
        assertEquals(2, m.allocations());
        assertEquals(2, m.frees());
        arena.close();
        assertTrue(arena.isRegionFreed());
    }

    /** Pin: extreme cursor positions throw and change nothing (no spill, no length). */
    @Test
    void bufferPositionExtremes()
    {
        final FixedArena arena = FixedArena.builder(2, 64).autoSpill(true).build();
        final Buffer b = arena.allocate();
        assertThrows(IndexOutOfBoundsException.class, () -> b.position(Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> b.position(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> b.position(Integer.MIN_VALUE));
        assertFalse(b.isSpilled());
        assertEquals(0, b.length());
        b.close();
        arena.close();
        assertTrue(arena.isRegionFreed());
    }

    /** Pin: index + length overflows never pass a Bytes bounds check; a refused NIO copy moves no position. */
    @Test
    void bytesExtremeReads()
    {
        final FixedArena arena = FixedArena.builder(2, 64).build();
        final Buffer b = arena.allocate();
        b.putLong(1).putLong(2);
        final Bytes bytes = b.freeze();
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getLong(Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getLong(Integer.MIN_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(Integer.MAX_VALUE, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.slice(1, Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(8, new byte[16], 0, Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(8, ByteBuffer.allocate(100), Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, ByteBuffer.allocate(100), Integer.MAX_VALUE, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getStringAscii(Integer.MAX_VALUE - 2));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getStringWithoutLengthAscii(4, Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getStringAscii(4, Integer.MAX_VALUE - 3));
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.boundsCheck(Integer.MAX_VALUE, Integer.MAX_VALUE));
        final ByteBuffer bb = ByteBuffer.allocate(100);
        bb.position(99);
        assertThrows(IndexOutOfBoundsException.class, () -> bytes.getBytes(0, bb, 8));
        assertEquals(99, bb.position());
        bytes.release();
        arena.close();
        assertTrue(arena.isRegionFreed());
    }

    /** Pin: the handle tier's documented exceptions for extreme indexes, lengths and forged longs. */
    @Test
    void handleExtremes()
    {
        final FixedArena arena = FixedArena.builder(2, 64).build();
        final long h = arena.allocateHandle();
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putLong(h, Integer.MAX_VALUE, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putLong(h, Integer.MIN_VALUE, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putBytes(h, 8, new byte[8], 0, Integer.MAX_VALUE));
        assertThrows(IndexOutOfBoundsException.class, () -> arena.putBytes(h, Integer.MAX_VALUE, new byte[8], 0, 8));
        assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(h, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> arena.freezeHandle(h, -1));
        assertEquals(-1, arena.length(h));
        assertThrows(StaleHandleException.class, () -> arena.release(Long.MAX_VALUE));
        assertThrows(StaleHandleException.class, () -> arena.release(Long.MIN_VALUE));
        assertThrows(StaleHandleException.class, () -> arena.release(-1));
        assertThrows(StaleHandleException.class, () -> arena.retain(Long.MIN_VALUE));
        assertThrows(StaleHandleException.class, () -> arena.offset(Long.MIN_VALUE));
        assertThrows(StaleHandleException.class, () -> arena.getLong(Long.MIN_VALUE, 0));
        assertThrows(StaleHandleException.class, () -> arena.putLong(Long.MIN_VALUE, 0, 0));
        assertThrows(StaleHandleException.class, () -> arena.freezeHandle(Long.MIN_VALUE, 0));
        assertThrows(StaleHandleException.class, () -> arena.length(Long.MIN_VALUE));
        assertFalse(arena.isLive(Long.MIN_VALUE));
        arena.release(h);
        arena.close();
        assertTrue(arena.isRegionFreed());
        final BuddyArena buddy = BuddyArena.builder(1024, 64).build();
        assertThrows(StaleHandleException.class, () -> buddy.handleCapacity(Long.MIN_VALUE));
        assertThrows(StaleHandleException.class, () -> buddy.handleCapacity(-1));
        assertThrows(StaleHandleException.class, () -> buddy.release(Long.MIN_VALUE));
        assertThrows(IllegalArgumentException.class, () -> buddy.allocateHandle(0));
        assertThrows(IllegalArgumentException.class, () -> buddy.allocateHandle(Integer.MIN_VALUE));
        assertThrows(RequestTooLargeException.class, () -> buddy.allocateHandle(Integer.MAX_VALUE));
        assertThrows(RequestTooLargeException.class, () -> buddy.blockSizeFor(Integer.MAX_VALUE));
        assertThrows(RequestTooLargeException.class, () -> buddy.allocateAsync(1025));
        assertEquals(0, buddy.metrics().failedAllocations());
        buddy.close();
    }

    /** Pin: both builders refuse out-of-range geometries with IllegalArgumentException. */
    @Test
    void builderExtremes()
    {
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1L << 31, 8));
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(Long.MAX_VALUE, 8));
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1024, 1).build());
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder((1 << 30) + 1, 8).roundUp(true).build());
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1 << 30, 8).build());
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1024, Integer.MAX_VALUE).roundUp(true).build());
        final BuddyArena one = BuddyArena.builder(1, 1).roundUp(true).build();
        assertEquals(8, one.totalBytes());
        one.close();
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(0, 8));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, 0));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, Integer.MAX_VALUE).build());
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, Integer.MAX_VALUE - 3).alignment(8).build());
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, 8).alignment(3));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, 8).alignment(0));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1, 8).alignment(Integer.MIN_VALUE));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(1 << 20, 4096).build());
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builderForCapacity(7, 8).build());
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builderForCapacity(0, 8));
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builderForCapacity(1L << 31, 8));
    }

    /**
     * Pin: Bytes (retained, sliced) and shared handles released by 8 threads while the arena closes: every release
     * succeeds, the region is freed once nothing is live, and the final metrics are exact.
     */
    @Test
    void bytesAndHandlesReleasedOnOtherThreadsWhileTheArenaClosesFreeTheRegionOnceWithExactMetrics() throws Exception
    {
        final int threads = 8;
        for (int round = 0; round < 60; round++)
        {
            final int kind = round % 4;
            final SlotArena arena = kind == 0 ? FixedArena.builder(64, 64).leakDetection(false).build() :
                kind == 1 ? FixedArena.builder(64, 64).initPolicy(InitPolicy.ZERO).build() :
                kind == 2 ? BuddyArena.builder(64 * 64, 64).build() :
                BuddyArena.builder(64 * 64, 64).freeBlockCache(false).leakDetection(false).build();
            final ConcurrentLinkedQueue<Object> refs = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < 32; i++)
            {
                final Buffer b = arena instanceof FixedArena ? ((FixedArena)arena).allocate() : ((BuddyArena)arena).allocate(64);
                b.putLong(i);
                final Bytes bytes = b.freeze();
                refs.add(bytes);
                refs.add(bytes.retain());
                refs.add(bytes.slice(0, 4));
                final long h = arena instanceof FixedArena ? ((FixedArena)arena).allocateHandle() :
                    ((BuddyArena)arena).allocateHandle(64);
                arena.putLong(h, 0, i);
                arena.freezeHandle(h, 8);
                arena.retain(h);
                refs.add(h);
                refs.add(h);
            }
            final int total = refs.size();
            final AtomicInteger released = new AtomicInteger();
            final CountDownLatch go = new CountDownLatch(1);
            final List<Thread> workers = new ArrayList<>();
            final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final Thread th = new Thread(() ->
                {
                    try
                    {
                        go.await();
                        Object r;
                        while ((r = refs.poll()) != null)
                        {
                            if (r instanceof Bytes)
                            {
                                ((Bytes)r).getInt(0);
                                ((Bytes)r).release();
                            }
                            else
                            {
                                arena.getInt((Long)r, 0);
                                arena.release((Long)r);
                            }
                            released.incrementAndGet();
                            if ((released.get() & 7) == 0)
                            {
                                if (arena instanceof FixedArena)
                                {
                                    ((FixedArena)arena).metrics();
                                }
                                else
                                {
                                    ((BuddyArena)arena).metrics();
                                }
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        errors.add(ex);
                    }
                });
                workers.add(th);
                th.start();
            }
            go.countDown();
            arena.close();
            for (final Thread th : workers)
            {
                th.join();
            }
            assertTrue(errors.isEmpty(), errors.toString());
            assertEquals(total, released.get());
            assertTrue(arena.isRegionFreed(), "round " + round);
            if (arena instanceof FixedArena)
            {
                final FixedArenaMetrics m = ((FixedArena)arena).metrics();
                assertEquals(64, m.allocations(), m.toString());
                assertEquals(64, m.frees(), m.toString());
                assertEquals(0, m.liveSlots());
                assertEquals(0, m.bytesReserved());
                assertEquals(0, m.bytesLive());
            }
            else
            {
                final BuddyArenaMetrics m = ((BuddyArena)arena).metrics();
                assertEquals(64, m.allocations(), m.toString());
                assertEquals(64, m.frees(), m.toString());
                assertEquals(0, m.liveBlocks());
                assertEquals(0, m.bytesLive(), m.toString());
                assertEquals(0, m.bytesReserved());
            }
        }
    }

    /** Pin: buddy geometries of order 0 to 20 (the swap of slot indexes included) give disjoint, aligned blocks. */
    @Test
    void buddyGeometryExtremesGiveDisjointBlocksInsideTheRegion()
    {
        for (final int maxOrder : new int[] {0, 1, 7, 8, 9, 20})
        {
            final BuddyArena arena = BuddyArena.builder(8L << maxOrder, 8).leakDetection(false).build();
            assertEquals(maxOrder, arena.maxOrder());
            final int n = 1 << maxOrder;
            final long[] handles = new long[n];
            final java.util.BitSet seen = new java.util.BitSet(n);
            for (int i = 0; i < n; i++)
            {
                handles[i] = arena.allocateHandle(1);
                final int off = arena.offset(handles[i]);
                assertEquals(0, off % 8);
                assertTrue(off >= 0 && off < arena.totalBytes());
                assertFalse(seen.get(off >> 3), "offset " + off + " twice, maxOrder " + maxOrder);
                seen.set(off >> 3);
                assertEquals(8, arena.handleCapacity(handles[i]));
            }
            assertEquals(BuddyArena.NO_HANDLE, arena.tryAllocateHandle(1));
            for (int i = 0; i < n; i++)
            {
                arena.release(handles[i]);
            }
            final BuddyArenaMetrics m = arena.metrics();
            assertTrue(m.fullyCoalesced(), m.toString());
            if (maxOrder > 0)
            {
                final int half = arena.totalBytes() / 2;
                assertEquals(arena.totalBytes(), arena.blockSizeFor(half + 1));
                final Buffer whole = arena.allocate(half + 1);
                assertEquals(arena.totalBytes(), whole.capacity());
                whole.close();
                final Buffer justHalf = arena.allocate(half);
                assertEquals(half, justHalf.capacity());
                final long other = arena.allocateHandle(half);
                assertEquals(half, Math.abs(arena.offset(other) - justHalf.base));
                arena.release(other);
                justHalf.close();
            }
            arena.close();
            assertTrue(arena.isRegionFreed());
        }
    }

    /**
     * {@code BuddyArenaMetrics} is a record with a {@code long[]} component: a record compares, hashes and prints an
     * array by identity, and each snapshot holds its own copy (the compact constructor clones it), so two snapshots
     * of a quiet arena with the same figures were never equal, hashed apart, and printed {@code [J@1b2c3d} for the
     * per-order figures.
     */
    @Test
    void buddyMetricsSnapshotsWithTheSameFiguresAreEqual()
    {
        final BuddyArena arena = BuddyArena.builder(1024, 64).name("eq").build();
        final long h = arena.allocateHandle(100);
        final BuddyArenaMetrics a = arena.metrics();
        final BuddyArenaMetrics b = arena.metrics();
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertTrue(a.toString().contains("freeBytesPerOrder=[0, 128, 256, 512, 0]"), a.toString());
        arena.release(h);
        final BuddyArenaMetrics c = arena.metrics();
        assertNotEquals(a, c);
        assertNotEquals(a, null);
        arena.close();
    }

    /**
     * Pin: under {@link InitPolicy#ZERO} every allocation, of either tier and either arena, reads zeros over its whole
     * capacity, whatever the previous owners wrote (cursor, view at any index, cursor skips, spills, freezes with
     * slices and retains released in any order, handles frozen shorter than what they wrote).
     */
    @Test
    void zeroPolicyHoldsUnderRandomWritesAndReleases()
    {
        final java.util.Random random = new java.util.Random(7);
        for (final boolean buddy : new boolean[] {false, true})
        {
            final SlotArena arena = buddy ?
                BuddyArena.builder(4096, 16).initPolicy(InitPolicy.ZERO).autoSpill(true).leakDetection(false).build() :
                FixedArena.builder(16, 256).initPolicy(InitPolicy.ZERO).autoSpill(true).leakDetection(false).build();
            final List<Object> held = new ArrayList<>();
            for (int op = 0; op < 20_000; op++)
            {
                if (held.size() > 6 || (random.nextInt(3) == 0 && !held.isEmpty()))
                {
                    final Object o = held.remove(random.nextInt(held.size()));
                    if (o instanceof Bytes)
                    {
                        ((Bytes)o).release();
                    }
                    else if (o instanceof Buffer)
                    {
                        ((Buffer)o).close();
                    }
                    else
                    {
                        arena.release((Long)o);
                    }
                    continue;
                }
                final int size = 1 + random.nextInt(256);
                if (random.nextBoolean())
                {
                    final Buffer buf = buddy ? ((BuddyArena)arena).tryAllocate(size) : ((FixedArena)arena).tryAllocate(size);
                    if (buf == null)
                    {
                        continue;
                    }
                    final org.agrona.MutableDirectBuffer view = buf.mutableBuffer();
                    for (int i = 0; i < buf.capacity(); i++)
                    {
                        assertEquals(0, view.getByte(i), "buffer byte " + i + " at op " + op);
                    }
                    final int writes = random.nextInt(4);
                    for (int w = 0; w < writes && !buf.isSpilled(); w++)
                    {
                        switch (random.nextInt(4))
                        {
                            case 0:
                                if (buf.remaining() >= 8)
                                {
                                    buf.putLong(-1L);
                                }
                                break;
                            case 1:
                                final int at = random.nextInt(buf.capacity());
                                view.putByte(at, (byte)-1);
                                break;
                            case 2:
                                buf.position(random.nextInt(buf.capacity() + 1));
                                buf.putByte((byte)-1);
                                break;
                            default:
                                view.setMemory(0, random.nextInt(buf.capacity() + 1), (byte)-1);
                                break;
                        }
                    }
                    if (random.nextBoolean())
                    {
                        final Bytes bytes = buf.freeze();
                        held.add(bytes);
                        if (bytes.length() > 2 && random.nextBoolean())
                        {
                            held.add(bytes.slice(1, bytes.length() - 2));
                        }
                        if (random.nextBoolean())
                        {
                            held.add(bytes.retain());
                        }
                    }
                    else
                    {
                        held.add(buf);
                    }
                }
                else
                {
                    final long h = buddy ? ((BuddyArena)arena).tryAllocateHandle(size) : ((FixedArena)arena).tryAllocateHandle();
                    if (h == FixedArena.NO_HANDLE)
                    {
                        continue;
                    }
                    final int capacity = buddy ? ((BuddyArena)arena).handleCapacity(h) : ((FixedArena)arena).slotCapacity();
                    for (int i = 0; i < capacity; i++)
                    {
                        assertEquals(0, arena.getByte(h, i), "handle byte " + i + " at op " + op);
                    }
                    arena.putByte(h, random.nextInt(capacity), (byte)-1);
                    arena.uncheckedBuffer().putByte(arena.offset(h) + capacity - 1, (byte)-1);
                    if (random.nextBoolean())
                    {
                        arena.freezeHandle(h, random.nextInt(capacity + 1));
                        if (random.nextBoolean())
                        {
                            arena.retain(h);
                            held.add(h);
                        }
                    }
                    held.add(h);
                }
            }
            for (final Object o : held)
            {
                if (o instanceof Bytes)
                {
                    ((Bytes)o).release();
                }
                else if (o instanceof Buffer)
                {
                    ((Buffer)o).close();
                }
                else
                {
                    arena.release((Long)o);
                }
            }
            arena.close();
            assertTrue(arena.isRegionFreed());
        }
    }

    /**
     * Pin: waiters queued on a full arena while 8 threads release Bytes and handles and the main thread closes it:
     * every request ends exactly once (served or failed with ArenaClosedException), a delivered buffer released by
     * its callback on whatever thread serves it still counts, and the region is freed once with exact metrics.
     */
    @Test
    void waitersServedOrFailedWhileReleasesRaceCloseEndOnceWithExactMetrics() throws Exception
    {
        for (int round = 0; round < 40; round++)
        {
            final boolean buddy = round % 2 == 1;
            final SlotArena arena = buddy ? BuddyArena.builder(16 * 64, 64).leakDetection(round % 4 == 1).build() :
                FixedArena.builder(16, 64).leakDetection(round % 4 == 0).build();
            final ConcurrentLinkedQueue<Bytes> refs = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < 16; i++)
            {
                final Buffer b = arena.allocateAsync(64).join();
                b.putLong(i);
                final Bytes bytes = b.freeze();
                refs.add(bytes);
                refs.add(bytes.retain());
            }
            final AtomicInteger served = new AtomicInteger();
            final AtomicInteger closedFailures = new AtomicInteger();
            final List<java.util.concurrent.CompletableFuture<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 24; i++)
            {
                waiters.add(arena.allocateAsync(1 + i % 64).handle((buf, error) ->
                {
                    if (buf != null)
                    {
                        served.incrementAndGet();
                        buf.putLong(1);
                        buf.freeze().release();
                    }
                    else if (error instanceof ArenaClosedException ||
                        error instanceof java.util.concurrent.CompletionException && error.getCause() instanceof ArenaClosedException)
                    {
                        closedFailures.incrementAndGet();
                    }
                    return null;
                }));
            }
            final CountDownLatch go = new CountDownLatch(1);
            final List<Thread> workers = new ArrayList<>();
            final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int t = 0; t < 8; t++)
            {
                final Thread th = new Thread(() ->
                {
                    try
                    {
                        go.await();
                        Bytes r;
                        while ((r = refs.poll()) != null)
                        {
                            r.release();
                        }
                    }
                    catch (final Throwable ex)
                    {
                        errors.add(ex);
                    }
                });
                workers.add(th);
                th.start();
            }
            go.countDown();
            if (round % 3 != 0)
            {
                Thread.onSpinWait();
            }
            arena.close();
            for (final Thread th : workers)
            {
                th.join();
            }
            for (final java.util.concurrent.CompletableFuture<Void> w : waiters)
            {
                w.join();
            }
            assertTrue(errors.isEmpty(), errors.toString());
            assertEquals(24, served.get() + closedFailures.get(), "round " + round);
            assertTrue(arena.isRegionFreed(), "round " + round);
            final WaitMetrics waits = buddy ? ((BuddyArena)arena).metrics().waits() : ((FixedArena)arena).metrics().waits();
            assertEquals(0, waits.waiters());
            assertEquals(served.get(), waits.completed(), waits.toString());
            assertEquals(closedFailures.get(), waits.failed(), waits.toString());
            final long allocations = buddy ? ((BuddyArena)arena).metrics().allocations() : ((FixedArena)arena).metrics().allocations();
            final long frees = buddy ? ((BuddyArena)arena).metrics().frees() : ((FixedArena)arena).metrics().frees();
            assertEquals(16 + served.get(), allocations, "round " + round);
            assertEquals(allocations, frees, "round " + round);
        }
    }

    @Test
    void aRequestRefusedBecauseOthersWaitSaysSoAndNotThatTheArenaIsFull()
    {
        final BuddyArena arena = BuddyArena.builder(1024, 64).build();
        final Buffer first = arena.allocate(512);
        final Buffer second = arena.allocate(512);
        final java.util.concurrent.CompletableFuture<Buffer> whole = arena.allocateAsync(1024);
        second.close(); // 512 bytes free, but the waiting request for 1024 is served first
        assertFalse(whole.isDone());
        final ArenaFullException refused = assertThrows(ArenaFullException.class, () -> arena.allocate(64));
        assertTrue(refused.getMessage().contains("1 waiting request(s), served first"), refused.getMessage());
        assertEquals(512, refused.live(), refused.getMessage());
        assertEquals(1024, refused.capacity());
        first.close();
        final ArenaFullException full = assertThrows(ArenaFullException.class, () -> arena.allocate(64));
        assertTrue(full.getMessage().contains("is full: 1024 of 1024 bytes in use"), full.getMessage());
        whole.join().close();
        arena.close();
        assertTrue(arena.isRegionFreed());
    }
}
