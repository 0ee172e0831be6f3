package dev.lake.memory;

import dev.lake.testing.ChildJvm;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Third review of the memory foundation ({@code Region}, {@code Memory}, {@code NativeMemory}, {@code RefCount}): each
 * test fails on the code before its fix. Crash-capable cases run in a child JVM ({@link ChildJvm}).
 */
class MemoryThirdReviewTest
{
    private static final String[] PUT_STRING_VARIANTS = {
        "putStringAscii", "putStringAsciiOrder", "putStringWithoutLengthAscii", "putStringWithoutLengthAsciiRange"};

    /**
     * A region's view ({@code Region.buffer()}, also a lake's, an arena block's, a pool arena's raw buffer) wrote a
     * {@code CharSequence} through Agrona's {@code putString*Ascii}: that checks the range once, reads the view's address
     * into a local, then asks the sequence for each char (code Lake does not know) and writes it there. A sequence whose
     * {@code charAt} closed the region had every later char written into the freed memory: a JVM crash once the memory
     * was unmapped (or another allocation's bytes overwritten where malloc reused it), with Agrona's bounds checks on.
     * The view now asks for each char first and checks it is still open before writing it.
     */
    @Test
    void aRegionViewWritingACharSequenceThatClosesTheRegionIsRefused() throws Exception
    {
        for (final boolean checks : new boolean[] {true, false})
        {
            for (final String variant : PUT_STRING_VARIANTS)
            {
                final String out = ChildJvm.run(ClosingCharSequenceProbe.class, checks, variant);
                assertTrue(out.startsWith("exit 0") && out.contains("probe: refused") &&
                    out.contains("IndexOutOfBoundsException"), variant + ": " + out);
            }
        }
    }

    /** The child JVM of {@link #aRegionViewWritingACharSequenceThatClosesTheRegionIsRefused()}. */
    public static final class ClosingCharSequenceProbe
    {
        private ClosingCharSequenceProbe()
        {
        }

        public static void main(final String[] args)
        {
            final String variant = args[0];
            final int length = 1 << 20;
            final Region region = Region.builder(64 << 20).build(); // large enough that closing it unmaps it
            final UnsafeBuffer view = region.buffer();
            final CharSequence closing = new CharSequence()
            {
                @Override
                public int length()
                {
                    return length;
                }

                @Override
                public char charAt(final int index)
                {
                    region.close();
                    return 'x';
                }

                @Override
                public CharSequence subSequence(final int start, final int end)
                {
                    throw new UnsupportedOperationException();
                }
            };
            try
            {
                switch (variant)
                {
                    case "putStringAscii" -> view.putStringAscii(4096, closing);
                    case "putStringAsciiOrder" -> view.putStringAscii(4096, closing, ByteOrder.BIG_ENDIAN);
                    case "putStringWithoutLengthAscii" -> view.putStringWithoutLengthAscii(4096, closing);
                    default -> view.putStringWithoutLengthAscii(4096, closing, 0, length);
                }
                System.out.println("probe: NOT refused: wrote through a closed region's view");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }

    /** The region view's {@code putString*Ascii} still write exactly what Agrona's do, for any sequence. */
    @Test
    void aRegionViewWritesCharSequencesAsAgronaDoes()
    {
        final CharSequence[] values = {"", "plain", "caf\u00e9 \u20ac", new StringBuilder("built \u00ff!"),
            java.nio.CharBuffer.wrap("wrapped \u0100 chars"), null};
        try (Region region = Region.builder(256).zeroed(true).build())
        {
            final UnsafeBuffer view = region.buffer();
            final UnsafeBuffer agrona = new UnsafeBuffer(new byte[256]);
            for (final CharSequence value : values)
            {
                for (final String variant : PUT_STRING_VARIANTS)
                {
                    view.setMemory(0, 256, (byte)0x55);
                    agrona.setMemory(0, 256, (byte)0x55);
                    assertEquals(outcome(agrona, variant, value), outcome(view, variant, value), variant + " " + value);
                    assertEquals(0, agrona.compareTo(new UnsafeBuffer(view, 0, 256)), variant + " " + value);
                }
            }
            if (org.agrona.DirectBuffer.SHOULD_BOUNDS_CHECK)
            {
                assertThrows(IndexOutOfBoundsException.class,
                    () -> view.putStringAscii(250, new StringBuilder("too long")));
                assertThrows(IndexOutOfBoundsException.class,
                    () -> view.putStringWithoutLengthAscii(250, new StringBuilder("too long")));
            }
        }
    }

    private static String outcome(final UnsafeBuffer buffer, final String variant, final CharSequence value)
    {
        try
        {
            return "wrote " + put(buffer, variant, value);
        }
        catch (final RuntimeException ex)
        {
            return "threw " + ex.getClass().getName();
        }
    }

    private static int put(final UnsafeBuffer buffer, final String variant, final CharSequence value)
    {
        return switch (variant)
        {
            case "putStringAscii" -> buffer.putStringAscii(3, value);
            case "putStringAsciiOrder" -> buffer.putStringAscii(3, value, ByteOrder.BIG_ENDIAN);
            case "putStringWithoutLengthAscii" -> buffer.putStringWithoutLengthAscii(3, value);
            default -> buffer.putStringWithoutLengthAscii(3, value, 1, 4);
        };
    }

    private static final String[] GET_STRING_VARIANTS = {
        "getStringAscii", "getStringAsciiOrder", "getStringAsciiLength", "getStringWithoutLengthAscii"};

    /**
     * A region's view read a string into an {@code Appendable} through Agrona's {@code getString*Ascii}: that checks the
     * range once, reads the view's address into a local, then reads each byte there and hands it to the appendable
     * (code Lake does not know). An appendable whose {@code append} closed the region had every later byte read from
     * the freed memory: a JVM crash once it was unmapped, or another allocation's bytes handed to the caller where
     * malloc reused it, with Agrona's bounds checks on. The view now checks it is still open before each byte it reads.
     */
    @Test
    void aRegionViewReadingIntoAnAppendableThatClosesTheRegionIsRefused() throws Exception
    {
        for (final boolean checks : new boolean[] {true, false})
        {
            for (final String variant : GET_STRING_VARIANTS)
            {
                final String out = ChildJvm.run(ClosingAppendableProbe.class, checks, variant);
                assertTrue(out.startsWith("exit 0") && out.contains("probe: refused after 1 char") &&
                    out.contains("IndexOutOfBoundsException"), variant + ": " + out);
            }
        }
    }

    /** The child JVM of {@link #aRegionViewReadingIntoAnAppendableThatClosesTheRegionIsRefused()}. */
    public static final class ClosingAppendableProbe
    {
        private ClosingAppendableProbe()
        {
        }

        public static void main(final String[] args)
        {
            final String variant = args[0];
            final int length = 1 << 20;
            final Region region = Region.builder(64 << 20).build(); // large enough that closing it unmaps it
            final UnsafeBuffer view = region.buffer();
            view.setMemory(4096, length + 8, (byte)'y');
            view.putInt(4096, length);
            final StringBuilder got = new StringBuilder();
            final Appendable closing = new Appendable()
            {
                @Override
                public Appendable append(final CharSequence csq)
                {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Appendable append(final CharSequence csq, final int start, final int end)
                {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Appendable append(final char c)
                {
                    got.append(c);
                    region.close();
                    return this;
                }
            };
            try
            {
                switch (variant)
                {
                    case "getStringAscii" -> view.getStringAscii(4096, closing);
                    case "getStringAsciiOrder" -> view.getStringAscii(4096, closing, ByteOrder.nativeOrder());
                    case "getStringAsciiLength" -> view.getStringAscii(4096, length, closing);
                    default -> view.getStringWithoutLengthAscii(4100, length, closing);
                }
                System.out.println("probe: NOT refused: read " + got.length() + " chars through a closed region's view");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("probe: refused after " + got.length() + " char (" + ex + ")");
            }
            System.out.flush();
        }
    }

    /** The region view's {@code getString*Ascii} into an {@code Appendable} still read exactly what Agrona's do. */
    @Test
    void aRegionViewReadsIntoAppendablesAsAgronaDoes()
    {
        try (Region region = Region.builder(64).zeroed(true).build())
        {
            final UnsafeBuffer view = region.buffer();
            final UnsafeBuffer agrona = new UnsafeBuffer(new byte[64]);
            for (final UnsafeBuffer b : new UnsafeBuffer[] {view, agrona})
            {
                b.putStringAscii(0, "ab\u00e9c");
                b.putByte(6, (byte)-3);
                b.putStringAscii(20, "xyz", ByteOrder.BIG_ENDIAN);
            }
            for (final String variant : GET_STRING_VARIANTS)
            {
                assertEquals(read(agrona, variant), read(view, variant), variant);
            }
            if (org.agrona.DirectBuffer.SHOULD_BOUNDS_CHECK)
            {
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(60, 8, new StringBuilder()));
                assertThrows(IndexOutOfBoundsException.class,
                    () -> view.getStringWithoutLengthAscii(60, 8, new StringBuilder()));
                assertThrows(IndexOutOfBoundsException.class, () -> view.getStringAscii(62, new StringBuilder()));
            }
        }
    }

    private static String read(final UnsafeBuffer buffer, final String variant)
    {
        final StringBuilder out = new StringBuilder();
        final int n = switch (variant)
        {
            case "getStringAscii" -> buffer.getStringAscii(0, out);
            case "getStringAsciiOrder" -> buffer.getStringAscii(20, out, ByteOrder.BIG_ENDIAN);
            case "getStringAsciiLength" -> buffer.getStringAscii(0, 5, out);
            default -> buffer.getStringWithoutLengthAscii(2, 5, out);
        };
        return n + ":" + out;
    }

    /**
     * A region's constructor raised {@code reservedBytes()} and {@code liveRegions()} as soon as it held the native
     * memory, then allocated its description, deallocator, views and cleaner registration on the Java heap. An
     * {@code OutOfMemoryError} there (a full heap) left the native memory held by nobody, never freed (no cleaner yet),
     * and both counters raised for good: a leak the leak counter never sees, and accounting no test can bring back to
     * its baseline. It now frees the memory and lowers the counters before the error goes on. A child JVM with a small,
     * nearly full heap allocates regions until the heap refuses them at every step of the constructor.
     */
    @Test
    void aRegionWhoseConstructionRunsOutOfHeapHoldsAndCountsNothing() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(HeapExhaustionProbe.class);
        assertTrue(out.contains("probe: reserved 0 live 0 after"), out);
    }

    /** The child JVM of {@link #aRegionWhoseConstructionRunsOutOfHeapHoldsAndCountsNothing()}. */
    public static final class HeapExhaustionProbe
    {
        private HeapExhaustionProbe()
        {
        }

        public static void main(final String[] args)
        {
            Region.allocate(4096).close(); // links the constructor's string concatenation before the heap is full
            final long reserved = NativeMemory.reservedBytes();
            final long live = NativeMemory.liveRegions();
            final Region[] made = new Region[64];
            int count = 0;
            int refused = 0;
            // full, then freed a filler at a time, so each step of the constructor meets the error
            final dev.lake.testing.HeapFiller fillers = dev.lake.testing.HeapFiller.fill(1 << 21);
            final int filled = fillers.count();
            while (count < 4 && refused < 400 && fillers.freeOne())
            {
                try
                {
                    made[count] = Region.allocate(4096);
                    count++;
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                }
            }
            fillers.freeAll();
            for (int i = 0; i < count; i++)
            {
                made[i].close();
            }
            System.out.println("probe: reserved " + (NativeMemory.reservedBytes() - reserved) + " live " +
                (NativeMemory.liveRegions() - live) + " after " + refused + " refusals and " + count + " regions (" + filled + " fillers)");
            System.out.flush();
        }
    }

    /**
     * A region's view copied into a read-only {@code ByteBuffer} through Agrona's {@code getBytes(int, ByteBuffer, ..)}:
     * Agrona writes through the buffer's backing array or address whatever it says, so a read-only heap or direct buffer
     * was silently changed, and a read-only mapped file crashed the JVM (its pages are not writable). Refused now, as
     * NIO and Lake's handle-tier views refuse it ({@code Region.checkDestination}), with the destination unchanged.
     */
    @Test
    void aRegionViewRefusesToCopyIntoAReadOnlyByteBuffer()
    {
        try (Region region = Region.builder(64).build())
        {
            final UnsafeBuffer view = region.buffer();
            view.setMemory(0, 64, (byte)7);
            final java.nio.ByteBuffer heap = java.nio.ByteBuffer.allocate(16);
            final java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(16);
            for (final java.nio.ByteBuffer target : new java.nio.ByteBuffer[] {heap, direct})
            {
                final java.nio.ByteBuffer readOnly = target.asReadOnlyBuffer();
                assertThrows(java.nio.ReadOnlyBufferException.class, () -> view.getBytes(0, readOnly, 0, 8));
                assertThrows(java.nio.ReadOnlyBufferException.class, () -> view.getBytes(0, readOnly, 8));
                assertEquals(0, readOnly.position());
                for (int i = 0; i < 16; i++)
                {
                    assertEquals(0, target.get(i), "the read-only buffer's bytes are unchanged");
                }
                view.getBytes(0, target, 4, 8); // a writable one still works
                assertEquals(7, target.get(4));
                assertEquals(7, target.get(11));
                assertEquals(0, target.get(12));
            }
        }
    }

    /** A read-only mapped file as the destination: a SIGSEGV before the fix. Child JVM, Agrona's checks on. */
    @Test
    void aRegionViewCopyIntoAReadOnlyMappedFileDoesNotCrash() throws Exception
    {
        final String out = ChildJvm.run(ReadOnlyMappedProbe.class, true);
        assertTrue(out.startsWith("exit 0") && out.contains("probe: refused (java.nio.ReadOnlyBufferException"), out);
    }

    /** The child JVM of {@link #aRegionViewCopyIntoAReadOnlyMappedFileDoesNotCrash()}. */
    public static final class ReadOnlyMappedProbe
    {
        private ReadOnlyMappedProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final java.nio.file.Path file = java.nio.file.Files.createTempFile("lake-ro", ".bin");
            try
            {
                java.nio.file.Files.write(file, new byte[4096]);
                try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file);
                    Region region = Region.builder(64).build())
                {
                    final java.nio.ByteBuffer mapped = channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, 4096);
                    region.buffer().getBytes(0, mapped, 0, 64);
                    System.out.println("probe: NOT refused: wrote into a read-only mapping");
                }
                catch (final RuntimeException ex)
                {
                    System.out.println("probe: refused (" + ex + ")");
                }
            }
            finally
            {
                java.nio.file.Files.deleteIfExists(file);
            }
            System.out.flush();
        }
    }

    /**
     * {@code RefCount.retain()} at {@code Integer.MAX_VALUE} refuses with an {@code IllegalStateException} that is not
     * a {@code StaleHandleException} (the handle is live), leaves the count unchanged and never wraps it to a negative
     * count (which would read as released); releases still count down exactly. The Javadoc did not say so.
     */
    @Test
    void aRefCountAtIntegerMaxValueRefusesToRetainAndNeverWraps() throws Exception
    {
        final RefCount count = new RefCount();
        final java.lang.reflect.Field field = RefCount.class.getDeclaredField("count");
        field.setAccessible(true);
        field.setInt(count, Integer.MAX_VALUE - 1);
        count.retain();
        assertEquals(Integer.MAX_VALUE, count.refCount());
        final IllegalStateException refused = assertThrows(IllegalStateException.class, count::retain);
        assertTrue(!(refused instanceof StaleHandleException), refused.toString());
        assertEquals(Integer.MAX_VALUE, count.refCount());
        assertTrue(!count.release());
        assertEquals(Integer.MAX_VALUE - 1, count.refCount());
        field.setInt(count, 1);
        assertTrue(count.release());
        assertThrows(StaleHandleException.class, count::retain);
        assertThrows(StaleHandleException.class, count::release);
        assertEquals(0, count.refCount());
    }

    /**
     * {@code NativeMemory}'s counters are exact once quiet under concurrent allocation of every size and alignment
     * class, closes racing closes of the same region, and leaks reclaimed by the safety net while other threads
     * allocate: reserved bytes and live regions back at their baseline, exactly one leak per region dropped unclosed.
     * In a child JVM, so that no other test's garbage can be reclaimed in the middle of the count.
     */
    @Test
    void accountingIsExactUnderConcurrentAllocateCloseAndLeak() throws Exception
    {
        final String out = ChildJvm.run(AccountingStressProbe.class, true);
        assertTrue(out.startsWith("exit 0") && out.contains("probe: exact"), out);
    }

    /** The child JVM of {@link #accountingIsExactUnderConcurrentAllocateCloseAndLeak()}. */
    public static final class AccountingStressProbe
    {
        private AccountingStressProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final long reserved = NativeMemory.reservedBytes();
            final long live = NativeMemory.liveRegions();
            final long leaks = NativeMemory.leaks();
            final int threads = 8;
            final java.util.concurrent.atomic.AtomicLong leaked = new java.util.concurrent.atomic.AtomicLong();
            final java.util.concurrent.ConcurrentLinkedQueue<Region> shared = new java.util.concurrent.ConcurrentLinkedQueue<>();
            final java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
            final java.util.List<Thread> workers = new java.util.ArrayList<>();
            final java.util.Queue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
            final int page = Memory.pageSize();
            for (int t = 0; t < threads; t++)
            {
                final long seed = t;
                final Thread worker = new Thread(() ->
                {
                    final java.util.Random random = new java.util.Random(seed);
                    try
                    {
                        start.await();
                        for (int i = 0; i < 3_000; i++)
                        {
                            final int size = switch (random.nextInt(4))
                            {
                                case 0 -> 1 + random.nextInt(64);
                                case 1 -> page - 1 + random.nextInt(3);
                                case 2 -> 1 + random.nextInt(300_000); // past the mmap threshold too
                                default -> 3 * page + 1;
                            };
                            final int alignment = 1 << random.nextInt(Integer.numberOfTrailingZeros(page) + 1);
                            final Region region = Region.builder(size).alignment(alignment)
                                .zeroed(random.nextBoolean()).build();
                            if ((region.address() & (alignment - 1)) != 0 || region.buffer().capacity() != size)
                            {
                                throw new AssertionError("misaligned or wrong size: " + region);
                            }
                            region.buffer().putByte(size - 1, (byte)1);
                            final int fate = random.nextInt(20);
                            if (fate == 0)
                            {
                                leaked.incrementAndGet(); // dropped: the safety net's
                            }
                            else if (fate < 5)
                            {
                                shared.add(region); // closed by whoever polls it, racing a close of its own
                                final Region other = shared.poll();
                                if (other != null)
                                {
                                    other.close();
                                    other.close();
                                }
                                region.close();
                            }
                            else
                            {
                                region.close();
                            }
                            if (i % 500 == 0)
                            {
                                System.gc();
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failures.add(ex);
                    }
                });
                workers.add(worker);
                worker.start();
            }
            start.countDown();
            for (final Thread worker : workers)
            {
                worker.join();
            }
            Region rest;
            while ((rest = shared.poll()) != null)
            {
                rest.close();
            }
            if (!failures.isEmpty())
            {
                failures.peek().printStackTrace(System.out);
            }
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() ->
            {
                System.gc();
                return NativeMemory.liveRegions() == live;
            });
            final long leakCount = NativeMemory.leaks() - leaks;
            final boolean exact = failures.isEmpty() && NativeMemory.reservedBytes() == reserved &&
                NativeMemory.liveRegions() == live && leakCount == leaked.get();
            System.out.println("probe: " + (exact ? "exact" : "NOT exact") + " reserved " +
                (NativeMemory.reservedBytes() - reserved) + " live " + (NativeMemory.liveRegions() - live) + " leaks " +
                leakCount + " of " + leaked.get() + " dropped");
            System.out.flush();
        }
    }

    /**
     * The second round made the region view's {@code putBytes(int, DirectBuffer, int, int)} ask the source first and check
     * its own range last, but the check was Agrona's, so with {@code -Dagrona.disable.bounds.checks=true} a source whose
     * {@code byteArray()} or {@code addressOffset()} closed the region still had the copy written to address 0 plus the
     * index (a JVM crash at the null page, or mapped memory for a large index). The view now also checks, with or
     * without Agrona's checks, that the source's own code did not close it. Child JVM, Agrona's checks off.
     */
    @Test
    void aRegionViewCopyFromASourceThatClosesTheRegionIsRefusedWithoutAgronasChecks() throws Exception
    {
        for (final String when : new String[] {"byteArray", "addressOffset"})
        {
            final String out = ChildJvm.run(SweepRegressionTest.ClosingSourceProbe.class, false, when);
            assertTrue(out.startsWith("exit 0") && out.contains("probe: refused") &&
                out.contains("IndexOutOfBoundsException"), when + ": " + out);
        }
    }
}
