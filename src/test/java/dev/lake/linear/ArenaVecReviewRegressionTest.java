package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression test for what a review of {@link ArenaVec} found that could crash the JVM; the review's other findings
 * (copies from and into buffers of types Lake does not know that reset the arena) are tested in
 * {@code dev.lake.memory.MemoryReviewRegressionTest}, which found them too. It failed before its fix.
 */
class ArenaVecReviewRegressionTest
{
    /**
     * OfRecord.get(index, dst, dstIndex) of a vector and of its finished view checked the record, then called
     * dst.capacity() (code Lake may not know), then copied: a destination that closed the arena there made the copy
     * read the closed block's buffer (address 0 + offset), a JVM crash with Agrona's bounds checks off. In a child
     * JVM. (The resetting variant, which read another allocation's bytes, is in MemoryReviewRegressionTest.)
     */
    @Test
    void aRecordGetIntoADestinationThatClosesTheArenaIsRefusedNotACrash() throws Exception
    {
        final java.util.List<String> command = new java.util.ArrayList<>();
        command.add(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(java.util.Arrays.asList(dev.lake.memory.Memory.REQUIRED_FLAG.split(" ")));
        command.add("-Xmx64m");
        command.add("-Dagrona.disable.bounds.checks=true");
        command.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/lake-closing-destination-probe-%p.log");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ClosingDestinationProbe.class.getName());
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "probe timed out");
        assertTrue(out.contains("probe: vec refused") && out.contains("probe: view refused"),
            "exit " + process.exitValue() + ", child JVM output:\n" + out);
    }

    /** The child JVM of {@link #aRecordGetIntoADestinationThatClosesTheArenaIsRefusedNotACrash()}. */
    public static final class ClosingDestinationProbe
    {
        private ClosingDestinationProbe()
        {
        }

        public static void main(final String[] args)
        {
            for (final boolean view : new boolean[]{false, true})
            {
                // a big record in a block of its own, so that the closed block is unmapped, not kept by malloc
                final int size = 4 << 20;
                final Arena arena = Arena.withCapacity(size);
                final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, size, 1);
                vec.pushZeroed();
                final ArenaView.OfRecord finished = view ? vec.finish() : null;
                final UnsafeBuffer dst = new UnsafeBuffer(new byte[size])
                {
                    @Override
                    public int capacity()
                    {
                        arena.close();
                        return super.capacity();
                    }
                };
                final String name = view ? "view" : "vec";
                try
                {
                    if (view)
                    {
                        finished.get(0, dst, 0);
                    }
                    else
                    {
                        vec.get(0, dst, 0);
                    }
                    System.out.println("probe: " + name + " NOT refused: read a closed arena");
                }
                catch (final StaleHandleException ex)
                {
                    System.out.println("probe: " + name + " refused (" + ex + ")");
                }
                System.out.flush();
            }
        }
    }
}
