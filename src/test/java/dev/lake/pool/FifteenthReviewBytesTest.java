package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SliceAllocator;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fifteenth review (rev-bytes): the object tier's Agrona views, {@code Bytes}, the pool buffer's view and the slices'
 * read-only view, method by method.
 */
class FifteenthReviewBytesTest
{
    /**
     * A read through a slice's view must keep the view's handle, and so its chunk, alive until the read is done, as
     * the pool's views do ({@code CheckedReads} fences every read). {@code SliceView} fenced only its bulk copies: in
     * compiled code its {@code hashCode()}, string getters and ASCII parsers stop using the view, and its handle, once
     * they loaded the raw delegate, so a GC in the middle of the read (a safepoint poll in the loop, an allocation)
     * found a leaked handle unreachable and the cleaner freed its chunk under the read: the read went on over freed
     * native memory (a SIGSEGV of the JVM, or another allocation's bytes). A child JVM reads leaked 8 MiB slices
     * through their views while another thread runs GCs and watches the allocator's live chunks; it counts the chunks
     * freed while their read ran and the reads that returned the wrong bytes, and a crash shows as its exit status.
     * Before the fix about two child JVMs in three failed, on JDK 17 and 25 alike (a crash, a wrong read or chunks freed
     * mid-read, in 1-8 s; in the others the JIT kept the view alive), so the test runs two; after it, none.
     */
    @Test
    void aReadThroughASliceViewKeepsItsLeakedHandlesChunkUntilTheReadIsDone() throws Exception
    {
        // two JVMs: whether a run's compiled read lets the handle go varies with the JIT's choices in that JVM
        for (int child = 0; child < 2; child++)
        {
            final String out = runChild(ViewReadProbe.class, 60);
            assertTrue(Pattern.compile("exit 0\\R(?s).*probe: view-read freed-mid-read 0 wrong 0 rounds [1-9]")
                .matcher(out).find(), out);
        }
    }

    /**
     * The child of {@link #aReadThroughASliceViewKeepsItsLeakedHandlesChunkUntilTheReadIsDone()}: prints {@code probe:
     * view-read freed-mid-read F wrong W rounds R}. Runs for a few seconds, or stops at the first chunk freed under its
     * read.
     */
    public static final class ViewReadProbe
    {
        private static final int BYTES = 8 << 20;
        private static volatile boolean stop;
        private static volatile boolean reading;
        private static volatile int round;
        private static volatile SliceAllocator current;
        private static volatile int freedMidRead;

        private ViewReadProbe()
        {
        }

        /** The read, with the view reachable from nowhere else: what a caller that only keeps the result does. */
        private static int hashOfTheOnlyReference(final AtomicReference<DirectBuffer> box)
        {
            return box.getAndSet(null).hashCode();
        }

        public static void main(final String[] args) throws Exception
        {
            final AtomicReference<DirectBuffer> box = new AtomicReference<>();
            try (SliceAllocator small = SliceAllocator.builder(ElementLayout.LONG).build())
            {
                for (int i = 0; i < 30_000; i++) // compiled, as a hot read is
                {
                    final var slice = small.allocateLongs(8, k -> k);
                    box.set(slice.buffer());
                    hashOfTheOnlyReference(box);
                    slice.release();
                }
            }
            final byte[] expectedBytes = new byte[BYTES];
            Arrays.fill(expectedBytes, (byte)'A');
            final int expected = new UnsafeBuffer(expectedBytes).hashCode();
            final Thread collector = new Thread(ViewReadProbe::collectAndWatch, "collector");
            collector.setDaemon(true);
            collector.start();
            int wrong = 0;
            int rounds = 0;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            while (System.nanoTime() < deadline && freedMidRead == 0)
            {
                final SliceAllocator allocator =
                    SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(BYTES / Long.BYTES).build();
                // the handle leaks: only its view is kept (longs: filled fast, so that most of a round is the read)
                box.set(allocator.allocateLongs(BYTES / Long.BYTES, k -> 0x4141414141414141L).buffer());
                allocator.close(); // moved on: the leaked handle is all that holds the chunk
                round++;
                current = allocator;
                reading = true;
                final int hash = hashOfTheOnlyReference(box);
                reading = false;
                if (hash != expected)
                {
                    wrong++;
                }
                rounds++;
            }
            stop = true;
            collector.join();
            System.out.println("probe: view-read freed-mid-read " + freedMidRead + " wrong " + wrong + " rounds " +
                rounds);
        }

        /** GCs back to back; between them, counts a chunk seen freed while its round's read was still running. */
        private static void collectAndWatch()
        {
            while (!stop)
            {
                System.gc();
                for (int i = 0; i < 1_000; i++)
                {
                    final int r = round;
                    final SliceAllocator a = current;
                    if (reading && a != null && a.stats().liveChunks() == 0 && reading && round == r && current == a)
                    {
                        freedMidRead++;
                    }
                }
            }
        }
    }

    /**
     * Runs {@code probe} in a child JVM (a read over freed memory may crash it) with one malloc arena (so that memory
     * one thread frees is what the next allocation gets); its crash report goes to the temp directory.
     *
     * @return {@code "exit N"}, a newline, and what the child printed but its leak warnings.
     */
    private static String runChild(final Class<?> probe, final int seconds) throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(Memory.REQUIRED_FLAG.split(" ")));
        command.add("-Xmx256m");
        command.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/lake-probe-%p.log");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(probe.getName());
        final File log = File.createTempFile("lake-probe", ".out");
        try
        {
            final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log);
            builder.environment().put("MALLOC_ARENA_MAX", "1");
            final Process process = builder.start();
            if (!process.waitFor(seconds, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
                fail("probe " + probe.getSimpleName() + " ran past " + seconds + " s and was killed; its output:\n" +
                    new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
            }
            // without the leak warnings of the chunks the probe leaks on purpose (two lines each)
            final StringBuilder out = new StringBuilder("exit " + process.exitValue() + "\n");
            for (final String line : Files.readAllLines(log.toPath(), StandardCharsets.UTF_8))
            {
                if (!line.contains("dev.lake.memory.LakeLog") && !line.contains("Lake leak: "))
                {
                    out.append(line).append('\n');
                }
            }
            return out.toString();
        }
        finally
        {
            Files.deleteIfExists(log.toPath());
        }
    }
}
