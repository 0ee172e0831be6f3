package dev.lake;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.linear.Transaction;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.AllocationTimeoutException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.InitPolicy;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.thread.ThreadLakes;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seventh review, docs: every code snippet of README.md and docs/*.md and every {@code <pre>{@code ...}</pre>}
 * usage example in the public Javadoc, compiled and run as written (with the minimal declarations around it that
 * the snippet leaves to the reader), asserting what the prose around it says it does. One test per snippet, named
 * after where it lives.
 */
class DocSnippetsReviewTest
{
    /** The stand-in for the snippets' {@code MyEncoder}: any flyweight with {@code wrap(buffer, offset)}. */
    static final class MyEncoder
    {
        static final int BLOCK_LENGTH = 64;
        MutableDirectBuffer buffer;
        int offset = -1;

        MyEncoder wrap(final MutableDirectBuffer buffer, final int offset)
        {
            this.buffer = buffer;
            this.offset = offset;
            return this;
        }

        MyEncoder price(final long price)
        {
            buffer.putLong(offset, price);
            return this;
        }
    }

    // ---------------------------------------------------------------- README.md

    /** README "A taste", the Lake half: the sandbox's 4096 bytes are rolled back because it is not committed. */
    @Test
    void readmeTasteLake()
    {
        int used;
        int at;
        try (Lake lake = Lake.builder(1 << 20).preTouch(true).build())
        {
            at = lake.allocate(64, 8);
            lake.buffer().putLong(at, 42L);
            try (Sandbox scratch = lake.sandbox()) { lake.allocate(4096); }   // rolled back: not committed
            used = lake.used();
            assertEquals(42L, lake.buffer().getLong(at));
            assertEquals(0, (lake.buffer().addressOffset() + at) % 8);
        }
        assertEquals(64, used, "the sandbox's allocation was rolled back");
    }

    /** README "A taste", the FixedArena half: memory returns on the last release. */
    @Test
    void readmeTasteFixedArena()
    {
        try (FixedArena arena = FixedArena.builder(1024, 4096).build())
        {
            Buffer buffer = arena.allocate();
            buffer.putLong(7L);
            Bytes bytes = buffer.freeze();           // read-only Agrona DirectBuffer, no copy
            Bytes forOtherThread = bytes.retain();   // shared, reference counted
            assertEquals(7L, forOtherThread.getLong(0));
            assertEquals(8, bytes.length());
            bytes.release();
            assertEquals(1, arena.liveSlots(), "the other reference still holds the slot");
            forOtherThread.release();
            assertEquals(0, arena.liveSlots(), "the last release returned the slot");
            assertEquals(1, arena.metrics().frees());
        }
    }

    // ---------------------------------------------------------------- docs/lake.md

    /** docs/lake.md, the opening example; "last allocation: its bytes go back to the lake". */
    @Test
    void lakeMdOpeningExample()
    {
        try (Lake lake = Lake.builder(1 << 20).preTouch(true).build())
        {
            int at = lake.allocate(64);                        // primitive tier: an int offset, no object
            lake.buffer().putLong(at, 42L);

            Droplet kept;
            try (Sandbox s = lake.sandbox())                   // commit or roll back
            {
                Droplet d = lake.droplet(16);                  // handle tier: checked on every access
                d.putLong(0, 7L);
                s.commit();
                kept = d;
            }
            assertTrue(kept.isValid(), "committed: the droplet is kept");
            assertEquals(7L, kept.getLong(0));
            final int beforeSplit = lake.used();

            try (LakeView scratch = lake.split(4096))          // a tributary with its own position, marks, ...
            {
                MyEncoder enc = scratch.place(new MyEncoder(), 64, 8, MyEncoder::wrap);   // zero-copy placement
                enc.price(99L);
                assertSame(lake.buffer(), enc.buffer, "offsets of a view are absolute in the lake's buffer");
                assertEquals(99L, lake.buffer().getLong(enc.offset));
            }                                                   // last allocation: its bytes go back to the lake
            assertEquals(beforeSplit, lake.used(), "the view's bytes went back to the lake");
            assertEquals(42L, lake.buffer().getLong(at));
        }
    }

    /** Javadoc of {@code Lake}: the class example. */
    @Test
    void lakeJavadocClassExample()
    {
        try (Lake lake = Lake.builder(1 << 20).preTouch(true).build())
        {
            int at = lake.allocate(64);                 // primitive tier: an offset, no object
            lake.buffer().putLong(at, 42L);
            try (Sandbox s = lake.sandbox())            // speculative work, rolled back unless committed
            {
                Droplet d = lake.droplet(16);           // handle tier: checked on every access
                d.putLong(0, 7L);
                s.commit();
            }
            assertEquals(80, lake.used(), "64 + the committed droplet's 16");
        }
    }

    /** Javadoc of {@code Sandbox}: the class example, committed and not. */
    @Test
    void sandboxJavadocClassExample()
    {
        try (Lake lake = Lake.of(4096))
        {
            for (final boolean commit : new boolean[] {true, false})
            {
                final int before = lake.used();
                try (Sandbox s = lake.sandbox())
                {
                    int at = s.allocate(64);          // or lake.allocate(64): the same memory
                    lake.buffer().putLong(at, 1L);
                    if (commit)
                    {
                        s.commit();                   // keep; without it, close() rolls back to where it opened
                    }
                }
                assertEquals(commit ? before + 64 : before, lake.used());
            }
        }
    }

    /** Javadoc of {@code LakeAllocator#beginSandbox()}: the token form. */
    @Test
    void lakeAllocatorBeginSandboxJavadocExample()
    {
        try (Lake lake = Lake.of(4096))
        {
            long s = lake.beginSandbox();
            try { lake.allocate(64); lake.commitSandbox(s); } finally { lake.endSandbox(s); }
            assertEquals(64, lake.used());
            s = lake.beginSandbox();
            try
            {
                lake.allocate(64);
                throw new IllegalStateException("the work failed");
            }
            catch (final IllegalStateException expected)
            {
                // not committed
            }
            finally { lake.endSandbox(s); }
            assertEquals(64, lake.used(), "not committed: rolled back by endSandbox");
            assertEquals(0, lake.stats().sandboxes());
        }
    }

    // ---------------------------------------------------------------- docs/arena.md

    /** docs/arena.md, the opening example: budget, savepoint undone, commit, vector, view stale after reset. */
    @Test
    void arenaMdOpeningExample()
    {
        final MyEncoder encoder = new MyEncoder();
        try (Arena arena = new Arena())                       // first block 64 KiB
        {
            assertEquals(64 * 1024, arena.stats().bytesReserved());
            long ref = arena.allocate(MyEncoder.BLOCK_LENGTH, 8);
            encoder.wrap(arena.buffer(ref), Arena.offset(ref)); // any Agrona/SBE flyweight, no copy
            encoder.price(1L);
            arena.place(encoder, MyEncoder.BLOCK_LENGTH, 8, MyEncoder::wrap); // the same in one call
            encoder.price(2L);
            assertEquals(1L, arena.buffer(ref).getLong(Arena.offset(ref)));

            long name;
            try (Transaction tx = arena.transaction())
            {
                tx.setLimit(64 * 1024);                        // request budget, padding included
                name = tx.copyOfUtf8("fastarena");             // Agrona length-prefixed layout
                final long afterName = arena.stats().bytesAllocated();
                try (Transaction speculative = tx.savepoint())
                {
                    speculative.allocate(4096, 64);
                }                                              // not committed: only the savepoint is undone
                assertEquals(afterName, arena.stats().bytesAllocated());
                tx.commit();
            }
            assertEquals("fastarena", arena.buffer(name).getStringUtf8(Arena.offset(name)));

            ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            for (int i = 0; i < 1024; i++) vec.push(i);
            ArenaView.OfLong view = vec.finish();              // lives as long as the arena's memory under it
            assertEquals(1024, view.size());
            assertEquals(1023L, view.get(1023));

            arena.reset();                                     // blocks stay warm; view is now stale
            assertFalse(view.isValid());
            assertThrows(StaleHandleException.class, () -> view.get(0));
            assertEquals(0, arena.stats().bytesAllocated());
        }
    }

    /** docs/arena.md, "The primitive tier: what an SBE user writes". */
    @Test
    void arenaMdPrimitiveTier()
    {
        final MyEncoder encoder = new MyEncoder();
        try (Arena arena = new Arena())
        {
            long ref = arena.allocate(64, 8);
            UnsafeBuffer buffer = arena.buffer(ref);   // the block's shared buffer (one register test, a field read)
            int offset = Arena.offset(ref);            // pure arithmetic
            encoder.wrap(buffer, offset);
            encoder.price(5L);
            assertSame(buffer, arena.buffer(arena.allocate(8, 8)), "one shared buffer per block");
            assertEquals(5L, buffer.getLong(offset));
        }
    }

    /** Javadoc of {@code Transaction}: the class example; not committed, rolled back and its cleanups run. */
    @Test
    void transactionJavadocClassExample()
    {
        try (Arena arena = new Arena())
        {
            final int[] cleanups = {0};
            for (final boolean commit : new boolean[] {true, false})
            {
                final long before = arena.stats().bytesAllocated();
                try (Transaction tx = arena.transaction())
                {
                    long ref = tx.allocate(64, 8);
                    arena.buffer(ref).putLong(Arena.offset(ref), 1L);
                    arena.defer(() -> cleanups[0]++);
                    if (commit)
                    {
                        tx.commit();
                    }
                } // not committed: rolled back here, cleanup actions registered inside run
                assertEquals(commit ? before + 64 : before, arena.stats().bytesAllocated());
                assertEquals(commit ? 0 : 1, cleanups[0]);
            }
        }
    }

    /** Javadoc of {@code Arena#beginTransaction()}: the token form. */
    @Test
    void arenaBeginTransactionJavadocExample()
    {
        try (Arena arena = new Arena())
        {
            long tx = arena.beginTransaction();
            try { arena.allocate(64, 8); arena.commitTransaction(tx); } finally { arena.endTransaction(tx); }
            assertEquals(64, arena.stats().bytesAllocated());
            tx = arena.beginTransaction();
            try { arena.allocate(64, 8); } finally { arena.endTransaction(tx); }
            assertEquals(64, arena.stats().bytesAllocated(), "not committed: rolled back by endTransaction");
        }
    }

    // ---------------------------------------------------------------- docs/pool.md

    /** docs/pool.md, the opening FixedArena example. */
    @Test
    void poolMdFixedArenaExample()
    {
        final byte[] payload = {1, 2, 3, 4};
        final MyEncoder encoder = new MyEncoder();
        try (FixedArena arena = FixedArena.builder(1024, 4096)   // 1,024 slots of 4 KiB, one off-heap region
                .alignment(64)                                   // power of two; rounds the slot capacity up
                .initPolicy(InitPolicy.ZERO)                     // UNINIT (default) or ZERO (slot zeroed on return)
                .preFault(true)                                  // touch every page at build
                .autoSpill(true)                                 // outgrow the slot -> continue on the heap
                .jfrEvents(true)                                 // periodic FixedArenaMetricsEvent (off by default)
                .build())
        {
            Buffer buf = arena.allocate();                       // ArenaFullException when full; tryAllocate() -> null
            buf.putLong(42).putBytes(payload);                   // write cursor
            encoder.wrap(buf.mutableBuffer(), buf.position());   // or a checked MutableDirectBuffer for codecs
            encoder.price(77L);
            Bytes bytes = buf.freeze();                          // read-only DirectBuffer over exactly the bytes, no copy
            assertEquals(8 + 4 + 8, bytes.length(), "the codec's write counts toward the frozen length");
            assertEquals(77L, bytes.getLong(12));
            Bytes forOtherThread = bytes.retain();               // one more reference (new object)
            Bytes header = bytes.slice(0, 8);                    // shares the slot, one more reference
            assertEquals(42L, header.getLong(0));
            bytes.release(); header.release();
            assertEquals(1, arena.liveSlots());
            forOtherThread.release();   // the last release returns the slot
            assertEquals(0, arena.liveSlots());
        }
    }

    /** docs/pool.md, the BuddyArena example: 300 B takes a 512 B block, a 4000 B handle a 4096 B one. */
    @Test
    void poolMdBuddyArenaExample()
    {
        final byte[] payload = new byte[100];
        final BuddyArena[] closed = new BuddyArena[1];
        try (BuddyArena arena = BuddyArena.builder(64 << 20, 64)  // 64 MiB region, blocks of 64 B and up
                .roundUp(false)                                  // default: a non-power-of-two geometry is an error
                .initPolicy(InitPolicy.ZERO).autoSpill(true).jfrEvents(true)   // as FixedArena
                .freeBlockCache(true)                            // default: lock-free reuse of released blocks
                .completionExecutor(null)                        // default: waiters completed on the releasing thread
                .build())
        {
            Buffer buf = arena.allocate(300);                    // a 512 B block: capacity() == 512
            assertEquals(512, buf.capacity());
            Bytes bytes = buf.putBytes(payload).freeze();        // the same Buffer and Bytes as FixedArena
            long h = arena.allocateHandle(4000);                 // zero-garbage tier; handleCapacity(h) == 4096
            assertEquals(4096, arena.handleCapacity(h));
            assertEquals(100, bytes.length());
            bytes.release(); arena.release(h);                   // else close() leaves the region to the last release
            assertEquals(0, arena.metrics().liveBlocks());
            closed[0] = arena;
        }
        assertTrue(closed[0].isRegionFreed(), "close freed the 64 MiB region");
    }

    /**
     * Why the BuddyArena snippet now releases what it allocated: as first written it kept {@code bytes} and the
     * handle, and {@code close()} then leaves the whole region to the last release ("Bytes (and handles) outlive
     * arena.close()"), so a copy of it held 64 MiB of native memory after its try block.
     */
    @Test
    void poolMdBuddyArenaExampleAsFirstWrittenHeldItsRegionPastClose()
    {
        final BuddyArena escaped;
        final Bytes bytes;
        final long h;
        try (BuddyArena arena = BuddyArena.builder(64 << 20, 64).build())
        {
            Buffer buf = arena.allocate(300);
            bytes = buf.putBytes(new byte[100]).freeze();
            h = arena.allocateHandle(4000);
            escaped = arena;
        }
        assertFalse(escaped.isRegionFreed(), "64 MiB still held after close");
        bytes.release();
        escaped.release(h);
        assertTrue(escaped.isRegionFreed(), "the last release freed it");
    }

    /** docs/pool.md, "Waiting for capacity": the future completes, the timed allocation times out holding nothing. */
    @Test
    void poolMdWaitingExample() throws Exception
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).build())
        {
            final AtomicReference<Buffer> got = new AtomicReference<>();
            CompletableFuture<Buffer> f = arena.allocateAsync(4096);          // FixedArena also: allocateAsync()
            f.orTimeout(5, TimeUnit.MILLISECONDS).thenAccept(buf -> got.set(buf));   // cancel() or orTimeout()
            assertTrue(f.isDone(), "the arena was free: completed at once");
            assertEquals(4096, got.get().capacity());
            assertThrows(AllocationTimeoutException.class, () ->
            {
                Buffer b = arena.allocate(4096, Duration.ofMillis(5));        // blocks; AllocationTimeoutException
            });
            assertEquals(1, arena.metrics().liveBlocks(), "the timeout holds nothing");
            got.get().close();
            Buffer b = arena.allocate(4096, Duration.ofMillis(5));
            assertEquals(4096, b.capacity());
            b.close();
        }
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            CompletableFuture<Buffer> f = arena.allocateAsync();
            assertTrue(f.isDone());
            f.join().close();
        }
    }

    // ---------------------------------------------------------------- docs/slices.md

    /** docs/slices.md, the opening example (with the declarations it leaves out: the queue, the reader, sum). */
    @Test
    void slicesMdOpeningExample() throws Exception
    {
        final BlockingQueue<SharedSlice> riskQueue = new ArrayBlockingQueue<>(1);
        final SliceReader reader = new SliceReader();
        long sum = 0;
        final long p0Seen;
        final long vSeen;
        final Thread risk;
        final long[] riskSum = {0};
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(8192).build())
        {
            risk = new Thread(() ->
            {
                try
                {
                    final SharedSlice s = riskQueue.take();
                    riskSum[0] = s.getLong(31);
                    s.release();
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                }
            });
            risk.start();
            SharedSlice prices = alloc.allocateLongs(32, i -> 100L + i);   // handle tier
            SharedSlice forRisk = prices.share();                          // second owner, same bytes
            riskQueue.offer(forRisk);                                      // read and released on another thread
            long p0 = prices.getLong(0);
            DirectBuffer view = prices.buffer();                           // read-only Agrona view, zero copy
            assertEquals(101L, view.getLong(8, ByteOrder.nativeOrder()));
            prices.release();
            long ref = alloc.allocateLongsRef(32, i -> i);                 // primitive tier: no Java object
            long v = alloc.getLong(ref, 31);                               // checked per call: for one-off reads
            try (SliceReader r = reader.adopt(alloc, ref))                 // reusable reader, allocated once:
            {                                                              // validates once, holds the count,
                for (int i = 0; i < r.length(); i++) { sum += r.getLong(i); } // one compare per element
            }                                                              // closing it releases the count
            try (SliceReader r = alloc.allocateLocalLongs(32, i -> i, reader)) // local slice: never shared, so
            {                                                              // no reference, no validation, and
                for (int i = 0; i < r.length(); i++) { sum += r.getLong(i); } // released on this thread without
            }                                                              // any atomic instruction
            p0Seen = p0;
            vSeen = v;
            risk.join(10_000);
            assertEquals(0, alloc.stats().liveSliceBytes(), "every slice released");
        }
        assertEquals(100L, p0Seen);
        assertEquals(31L, vSeen);
        assertEquals(2 * 496L, sum);
        assertEquals(131L, riskSum[0]);
    }

    /** Javadoc of {@code SliceReader}: the class example. */
    @Test
    void sliceReaderJavadocClassExample()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            final int n = 100;
            long sum = 0;
            final SliceReader reader = new SliceReader();              // once, per reading thread
            long ref = alloc.allocateLongsRef(n, i -> i);
            try (SliceReader r = reader.adopt(alloc, ref))             // the reader now owns the reference's count
            {
                for (int i = 0; i < r.length(); i++) { sum += r.getLong(i); }
            }                                                          // released here
            assertEquals(4950L, sum);
            assertEquals(0, alloc.stats().liveSliceBytes());
            assertThrows(StaleHandleException.class, () -> alloc.getLong(ref, 0));
        }
    }

    // ---------------------------------------------------------------- docs/threads.md

    /** docs/threads.md, the one-liner: an auto-initialised lake, its position restored afterwards. */
    @Test
    void threadsMdDefaultsOneLiner() throws Exception
    {
        final long[] r = onNewThread(() ->
        {
            long sum = ThreadLakes.defaults().with(lake -> {      // auto-initialised 1 MiB lake, restored after
                int at = lake.allocateLongs(16);
                long result = 0;
                for (int i = 0; i < 16; i++) { lake.buffer().putLong(at + 8 * i, i); }
                for (int i = 0; i < 16; i++) { result += lake.buffer().getLong(at + 8 * i); }
                return result;
            });
            final Lake lake = ThreadLakes.defaults().current();
            final long[] seen = {sum, lake.used(), lake.capacity()};
            ThreadLakes.defaults().release();
            return seen;
        });
        assertEquals(120L, r[0]);
        assertEquals(0L, r[1], "position restored");
        assertEquals(1 << 20, r[2], "a 1 MiB lake");
    }

    /** Javadoc of {@code ThreadLakes}: the class example. */
    @Test
    void threadLakesJavadocClassExample() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(1 << 20).poolBound(8).build())
        {
            final long[] r = onNewThread(() ->
            {
                lakes.init();                                  // this thread's lake, first-touched here
                long sum = lakes.with(lake -> {                // scoped: the position is restored afterwards
                    int at = lake.allocateLongs(16);
                    lake.buffer().putLong(at, 3L);
                    return lake.buffer().getLong(at);
                });
                final int used = lakes.current().used();
                lakes.release();                               // back to the pool
                return new long[] {sum, used};
            });
            assertEquals(3L, r[0]);
            assertEquals(0L, r[1]);
            assertEquals(1, lakes.stats().pooled(), "released: back to the pool");
        }
    }

    /** Runs a snippet that needs a thread of its own (thread lakes), and hands back what it saw or rethrows. */
    private static long[] onNewThread(final java.util.concurrent.Callable<long[]> snippet) throws InterruptedException
    {
        final AtomicReference<Object> outcome = new AtomicReference<>();
        final Thread t = new Thread(() ->
        {
            try
            {
                outcome.set(snippet.call());
            }
            catch (final Throwable e)
            {
                outcome.set(e);
            }
        });
        t.start();
        t.join(10_000);
        if (outcome.get() instanceof Throwable e)
        {
            throw new AssertionError(e);
        }
        return (long[]) outcome.get();
    }

    // ---------------------------------------------------------------- claims of the prose that no test pinned

    /** lake.md "Two tiers": tryAllocate returns NO_SPACE = -1; bad arguments and a closed lake still throw. */
    @Test
    void lakeMdTryAllocateSentinelAndWhatStillThrows()
    {
        assertEquals(-1, Lake.NO_SPACE);
        final Lake lake = Lake.of(64);
        assertEquals(0, lake.tryAllocate(64));
        assertEquals(Lake.NO_SPACE, lake.tryAllocate(1));
        assertThrows(IllegalArgumentException.class, () -> lake.tryAllocate(0));
        assertThrows(IllegalArgumentException.class, () -> lake.tryAllocate(-1));
        assertThrows(IllegalArgumentException.class, () -> lake.tryAllocate(8, 3));
        lake.close();
        assertThrows(IllegalStateException.class, () -> lake.tryAllocate(1));
    }

    /** lake.md "Two tiers": "Default alignment is 8". */
    @Test
    void lakeMdDefaultAlignmentIsEight()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(1);
            final int at = lake.allocate(1);
            assertEquals(8, at);
            assertEquals(0, (lake.buffer().addressOffset() + at) % 8);
            assertEquals(9, lake.used());
        }
    }

    /** lake.md "Types": LakeOverflowException is unchecked, an IllegalStateException naming requested and remaining. */
    @Test
    void lakeMdOverflowIsAnIllegalStateNamingRequestedAndRemaining()
    {
        try (Lake lake = Lake.of(64))
        {
            lake.allocate(40);
            final dev.lake.linear.LakeOverflowException e =
                assertThrows(dev.lake.linear.LakeOverflowException.class, () -> lake.allocate(100));
            assertTrue(IllegalStateException.class.isInstance(e));
            assertTrue(e.getMessage().contains("100"), e.getMessage());
            assertTrue(e.getMessage().contains("24"), e.getMessage());
            assertEquals(40, lake.used(), "nothing changed");
        }
    }

    /** lake.md "close()": used()/remaining() report 0 afterwards; the lake throws ISE, handles SHE. */
    @Test
    void lakeMdAfterCloseUsedAndRemainingReportZero()
    {
        final Lake lake = Lake.of(4096);
        lake.allocate(64);
        final Droplet d = lake.droplet(8);
        lake.close();
        assertEquals(0, lake.used());
        assertEquals(0, lake.remaining());
        assertThrows(IllegalStateException.class, () -> lake.allocate(8));
        assertThrows(StaleHandleException.class, () -> d.getLong(0));
        lake.close();   // idempotent
    }

    /** arena.md "Blocks": new blocks double from 64 KiB up to maxBlockSize, 16 MiB by default. */
    @Test
    void arenaMdDefaultMaxBlockSizeIs16MiB()
    {
        assertEquals(16 << 20, Arena.DEFAULT_MAX_BLOCK_SIZE);
        try (Arena arena = Arena.builder().maxBlockSize(256 * 1024).build())
        {
            for (int i = 0; i < 4; i++)
            {
                arena.allocate(60 * 1024, 8);
            }
            // 64 KiB, 128 KiB (two requests), 256 KiB: then 256 KiB again, the cap
            assertEquals((64 + 128 + 256) * 1024, arena.stats().bytesReserved());
            final long before = arena.stats().bytesReserved();
            arena.allocate(200 * 1024, 8);   // does not fit the 196 KiB left: a new block, of the cap
            arena.allocate(200 * 1024, 8);   // and another
            assertEquals(2 * 256 * 1024, arena.stats().bytesReserved() - before, "stays at the cap");
            assertEquals(5, arena.stats().blockCount());
        }
    }

    /** arena.md "Copies": 0-byte raw allocations are refused; empty copies allocate nothing; '?' replacements. */
    @Test
    void arenaMdCopiesEmptyAndReplacements()
    {
        try (Arena arena = new Arena())
        {
            final IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> arena.allocate(0, 8));
            assertTrue(e.getMessage().contains("0"), e.getMessage());
            arena.allocate(8, 8);
            final long before = arena.stats().bytesAllocated();
            arena.copyOf(new byte[0]);
            assertEquals(before, arena.stats().bytesAllocated(), "an empty copy allocates nothing");

            final long utf8 = arena.copyOfUtf8("a\uD800b");
            assertEquals("a?b", arena.buffer(utf8).getStringUtf8(Arena.offset(utf8)));
            final long ascii = arena.copyOfAscii("x\u00e9y");
            assertEquals("x?y", arena.buffer(ascii).getStringAscii(Arena.offset(ascii)));
        }
    }

    /** arena.md "Blocks": beyond maxReservedBytes allocate throws OutOfMemoryError and the try forms return NULL. */
    @Test
    void arenaMdReserveLimitIsAnOutOfMemoryErrorOrNull()
    {
        try (Arena arena = Arena.builder().maxReservedBytes(64 * 1024).build())
        {
            arena.allocate(60 * 1024, 8);
            final long before = arena.stats().bytesAllocated();
            assertThrows(OutOfMemoryError.class, () -> arena.allocate(8 * 1024, 8));
            assertEquals(Arena.NULL, arena.tryAllocate(8 * 1024, 8));
            assertEquals(before, arena.stats().bytesAllocated());
            assertEquals(64 * 1024, arena.stats().bytesReserved());
        }
    }

    /** slices.md "Memory layout": a 1-byte slice of a BYTE allocator takes 16 bytes (8 header + padding). */
    @Test
    void slicesMdAOneByteSliceTakes16Bytes()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            final long a = alloc.allocateBytesRef(1, i -> (byte) 1);
            final long b = alloc.allocateBytesRef(1, i -> (byte) 2);
            final SharedSlice sa = alloc.toHandle(a);
            final SharedSlice sb = alloc.toHandle(b);
            assertEquals(16, sb.buffer().addressOffset() - sa.buffer().addressOffset());
            sa.release();
            sb.release();
        }
    }

    /** slices.md "Memory layout": a default chunk is N * stride + max(8, alignment) bytes, N = 64 KiB of elements. */
    @Test
    void slicesMdDefaultChunkSize()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            assertEquals(8192, alloc.chunkCapacity());
            assertEquals(8192L * 8 + 8, alloc.stats().reservedBytes());
            final SharedSlice whole = alloc.allocateLongs(8192, i -> i);   // "a slice of N elements fits alone"
            assertEquals(1, alloc.stats().liveChunks());
            whole.release();
        }
    }

    /** slices.md "Two tiers": the buffer() view implements only DirectBuffer. */
    @Test
    void slicesMdTheViewIsNotAMutableDirectBuffer()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            final SharedSlice s = alloc.allocateLongs(4, i -> i);
            assertFalse(s.buffer() instanceof MutableDirectBuffer);
            assertThrows(UnsupportedOperationException.class, () -> s.buffer().wrap(new byte[8]));
            s.release();
        }
    }

    /** pool.md "Geometry": blockSizeFor(n) = max(minBlock, nextPowerOfTwo(n)); above totalBytes: too large. */
    @Test
    void poolMdBuddyGeometryAndBlockSizes()
    {
        try (BuddyArena arena = BuddyArena.builder(1 << 20, 64).build())
        {
            assertEquals(64, arena.blockSizeFor(1));
            assertEquals(64, arena.blockSizeFor(64));
            assertEquals(128, arena.blockSizeFor(65));
            assertEquals(1 << 20, arena.blockSizeFor(1 << 20));
            assertThrows(dev.lake.pool.RequestTooLargeException.class, () -> arena.allocate((1 << 20) + 1));
            assertThrows(dev.lake.pool.RequestTooLargeException.class,
                () -> arena.allocate((1 << 20) + 1, Duration.ofMillis(1)));
        }
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1 << 20, 4).build(), "minBlock >= 8");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(2L << 30, 4096).build(), "<= 1 GiB");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(1 << 30, 512).build(),
            "at most 2^20 minimum blocks");
        assertThrows(IllegalArgumentException.class, () -> BuddyArena.builder(3000, 64).build(), "not exact");
        try (BuddyArena rounded = BuddyArena.builder(3000, 48).roundUp(true).build())
        {
            assertEquals(4096, rounded.totalBytes());
        }
    }

    /** pool.md "Auto-spill": allocate(minCapacity) over the slot capacity is RequestTooLarge even with auto-spill. */
    @Test
    void poolMdMinCapacityOverTheSlotIsTooLargeEvenWithAutoSpill()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).autoSpill(true).build())
        {
            assertThrows(dev.lake.pool.RequestTooLargeException.class, () -> arena.allocate(65));
            assertEquals(0, arena.liveSlots());
            assertEquals(FixedArena.NO_HANDLE, 0L);
        }
    }

    /** pool.md "Bytes": byteBuffer() is null, wrap throws; "Buffer": close after freeze is a no-op. */
    @Test
    void poolMdBytesHaveNoByteBufferAndCloseAfterFreezeIsANoOp()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).build())
        {
            final Buffer buf = arena.allocate();
            buf.putLong(1L);
            final Bytes bytes = buf.freeze();
            buf.close();
            assertEquals(1, arena.liveSlots());
            assertEquals(null, bytes.byteBuffer());
            assertThrows(UnsupportedOperationException.class, () -> bytes.wrap(new byte[8]));
            assertEquals(8, bytes.capacity());
            bytes.release();
            assertThrows(StaleHandleException.class, bytes::release);
            assertEquals(0, arena.liveSlots());
        }
    }
    /** arena.md "Transactions": commit twice ISE, after rollback SHE, isCommitted stays true; no budget: UNLIMITED. */
    @Test
    void arenaMdTransactionCommitRulesAndUnlimitedBudget()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            assertEquals(Arena.UNLIMITED, tx.budgetRemaining());
            tx.allocate(64, 8);
            tx.commit();
            assertTrue(tx.isCommitted());
            assertThrows(IllegalStateException.class, tx::commit);
            tx.close();
            assertTrue(tx.isCommitted(), "stays true");
            final Transaction rolled = arena.transaction();
            rolled.allocate(64, 8);
            rolled.rollback();
            assertThrows(StaleHandleException.class, rolled::commit);
            assertEquals(64, arena.stats().bytesAllocated());
        }
    }

    /** arena.md "Checkpoints": one at the start is never stale; one of another arena is an IAE, nothing changes. */
    @Test
    void arenaMdCheckpointAtTheStartAndOfAnotherArena()
    {
        try (Arena arena = new Arena(); Arena other = new Arena())
        {
            final dev.lake.linear.Checkpoint start = arena.checkpoint();
            for (int round = 0; round < 3; round++)
            {
                arena.allocate(100_000, 8);
                arena.reset();
                arena.allocate(8, 8);
                arena.rewind(start);
            }
            arena.allocate(8, 8);
            final dev.lake.linear.Checkpoint foreign = other.checkpoint();
            assertThrows(IllegalArgumentException.class, () -> arena.rewind(foreign));
            assertEquals(8, arena.stats().bytesAllocated());
        }
    }

    /** arena.md "Stats and close": after close stats() reports zeros, arena methods ISE, buffer(ref) SHE. */
    @Test
    void arenaMdAfterCloseStatsAreZeros()
    {
        final Arena arena = new Arena();
        final long ref = arena.allocate(64, 8);
        arena.close();
        assertEquals(new dev.lake.linear.ArenaStats(0, 0, 0), arena.stats());
        assertThrows(IllegalStateException.class, () -> arena.allocate(8, 8));
        assertThrows(StaleHandleException.class, () -> arena.buffer(ref));
        arena.close();
    }

    /** arena.md "ArenaVec": growth doubles, minimum 8. */
    @Test
    void arenaMdVectorGrowthDoublesFromEight()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
            vec.push(1);
            assertEquals(8, vec.capacity());
            for (int i = 0; i < 8; i++) vec.push(i);
            assertEquals(16, vec.capacity());
        }
    }

    /** arena.md "Cleanup actions": one action registering another is refused; the same exception rethrown once. */
    @Test
    void arenaMdCleanupActionsRules()
    {
        try (Arena arena = new Arena())
        {
            final RuntimeException shared = new RuntimeException("preallocated");
            final Object[] inner = new Object[1];
            arena.defer(() -> { throw shared; });
            arena.defer(() -> { throw shared; });
            arena.defer(() ->
            {
                try
                {
                    arena.defer(() -> { });
                }
                catch (final IllegalStateException e)
                {
                    inner[0] = e;
                }
            });
            final RuntimeException thrown = assertThrows(RuntimeException.class, arena::reset);
            assertSame(shared, thrown);
            assertEquals(0, thrown.getSuppressed().length, "not suppressed into itself");
            assertTrue(inner[0] instanceof IllegalStateException, "an action cannot register another");
            assertEquals(0, arena.stats().bytesAllocated(), "the rewind completed");
        }
    }
    /** pool.md opening example: alignment is a power of two and rounds the slot capacity up; slots start aligned. */
    @Test
    void poolMdAlignmentRoundsTheSlotCapacityUpAndAlignsEverySlot()
    {
        try (FixedArena arena = FixedArena.builder(4, 100).alignment(64).build())
        {
            assertEquals(128, arena.slotCapacity());
            final long[] every = new long[4];
            for (int i = 0; i < 4; i++)
            {
                every[i] = arena.allocateHandle();
                assertEquals(0, (arena.uncheckedBuffer().addressOffset() + arena.offset(every[i])) % 64);
            }
            for (final long h : every)
            {
                arena.release(h); // not left to the region's safety net, under a later test's native counts
            }
            assertEquals(0, arena.metrics().liveSlots());
        }
        assertThrows(IllegalArgumentException.class, () -> FixedArena.builder(4, 100).alignment(48));
        try (FixedArena byRegion = FixedArena.builderForCapacity(4096, 1000).build())
        {
            assertEquals(1000, byRegion.slotCapacity(), "a multiple of the default alignment, 8");
            assertEquals(4, byRegion.slotCount(), "as many slots as fit in the region");
        }
    }

    /** threads.md "Lifecycle": poolBound 0 closes every lake given back; Integer.MAX_VALUE is "no bound". */
    @Test
    void threadsMdPoolBoundZeroClosesAndMaxValueKeeps() throws Exception
    {
        for (final int bound : new int[] {0, Integer.MAX_VALUE})
        {
            try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(bound).build())
            {
                final Thread t = new Thread(() ->
                {
                    lakes.init();
                    lakes.release();
                });
                t.start();
                t.join(10_000);
                assertEquals(bound == 0 ? 0 : 1, lakes.stats().pooled(), "bound " + bound);
                assertEquals(bound == 0 ? 1 : 0, lakes.stats().closed(), "bound " + bound);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ThreadLakes.builder(4096).poolBound(-1));
    }

    /**
     * lake.md, Droplet.wrap: Droplet#wrap's Javadoc offers {@code MyDecoder::wrap} as the wrapper, which does not
     * compile for an SBE message decoder (its wrap takes four arguments); the lambda lake.md now gives does, and
     * decodes in place what a placed encoder wrote.
     */
    @Test
    void lakeMdDropletWrapOfAnSbeMessageDecoderTakesALambda()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet droplet = lake.droplet(64);
            droplet.wrap(new dev.lake.examples.sbe.NewOrderEncoder(), dev.lake.examples.sbe.NewOrderEncoder::wrap)
                .orderId(42).price(10_125).quantity(300);
            final dev.lake.examples.sbe.NewOrderDecoder decoder = droplet.wrap(
                new dev.lake.examples.sbe.NewOrderDecoder(), (d, buffer, offset) -> d.wrap(buffer, offset,
                    dev.lake.examples.sbe.NewOrderDecoder.BLOCK_LENGTH,
                    dev.lake.examples.sbe.NewOrderDecoder.SCHEMA_VERSION));
            assertEquals(42, decoder.orderId());
            assertEquals(10_125, decoder.price());
            assertEquals(300, decoder.quantity());
        }
    }

    // ---------------------------------------------------------------- examples/

    /**
     * The flagship's usage line promises {@code --messages N} and {@code --rate MSGS_PER_SEC}. A count or a rate
     * below 1 used to run anyway and print nonsense as a measurement: {@code --messages -5} reported -1,535,627
     * msgs/s and -89,680 B/msg, {@code --rate 0} measured unthrottled and printed "latency at 0 msgs/s"; an
     * option without its value died with ArrayIndexOutOfBoundsException. Each is now refused with the usage
     * line, before anything runs; so are a fork count outside 0 to 100 and an unknown variant.
     */
    @Test
    void flagshipRefusesCountsAndRatesBelowOneAndOptionsWithoutAValue()
    {
        for (final String[] args : new String[][] {
            {"--baseline", "heap", "--messages", "-5"},
            {"--baseline", "heap", "--messages", "0"},
            {"--baseline", "heap", "--rate", "0"},
            {"--baseline", "heap", "--rate", "-250000"},
            {"--baseline", "heap", "--messages", "many"},
            {"--messages"},
            {"--forks", "-1"},
            {"--forks", "two"},
            {"--forks", "101"},
            {"--baseline", "arrow"},
        })
        {
            final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> dev.lake.examples.flagship.MarketDataPipeline.main(args), String.join(" ", args));
            assertTrue(e.getMessage().contains("usage: MarketDataPipeline"), e.getMessage());
        }
    }
}
