package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Regression tests for what a review of {@link ArenaVec} and the arena parts it relies on found. Each test failed
 * before its fix.
 */
class ArenaVecReviewRegressionTest
{
    /**
     * A source buffer of a type Lake does not know: its {@code addressOffset()} (which a copy must call to read it)
     * resets the arena and hands the vector's old bytes to a new allocation, filled with a marker.
     */
    private static UnsafeBuffer resettingSource(final Arena arena, final AtomicLong victim, final int bytes)
    {
        return new UnsafeBuffer(new byte[bytes])
        {
            @Override
            public long addressOffset()
            {
                if (victim.get() == Arena.NULL)
                {
                    arena.reset();
                    final long ref = arena.allocate(bytes, 8);
                    arena.buffer(ref).setMemory(Arena.offset(ref), bytes, (byte)0x5A);
                    victim.set(ref);
                }
                return super.addressOffset();
            }
        };
    }

    private static void assertUntouched(final Arena arena, final long ref, final int bytes)
    {
        for (int i = 0; i < bytes; i++)
        {
            assertEquals((byte)0x5A, arena.buffer(ref).getByte(Arena.offset(ref) + i),
                "the copy wrote into another allocation at byte " + i);
        }
    }

    /**
     * OfRecord.push(DirectBuffer) claimed the record (the vector's checks passed), then let the copy ask the source
     * for its address: a source that reset the arena there and whose bytes went to a new allocation had that
     * allocation overwritten by the copy. (Had it closed the arena, the copy wrote into freed memory.)
     */
    @Test
    void recordPushFromASourceThatResetsTheArenaDoesNotOverwriteAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 64, 4);
            final AtomicLong victim = new AtomicLong(Arena.NULL);
            final UnsafeBuffer src = resettingSource(arena, victim, 64);
            assertThrows(StaleHandleException.class, () -> vec.push(src, 0));
            assertUntouched(arena, victim.get(), 64);
        }
    }

    /** The same for addAll(DirectBuffer, index, count) (every element type goes through the same copy). */
    @Test
    void bufferAddAllFromASourceThatResetsTheArenaDoesNotOverwriteAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 8);
            final AtomicLong victim = new AtomicLong(Arena.NULL);
            final UnsafeBuffer src = resettingSource(arena, victim, 64);
            assertThrows(StaleHandleException.class, () -> vec.addAll(src, 0, 8));
            assertUntouched(arena, victim.get(), 64);
        }
    }

    /** The same for OfRecord.set(index, DirectBuffer, srcIndex), which let Agrona's putBytes call the source. */
    @Test
    void recordSetFromASourceThatResetsTheArenaDoesNotOverwriteAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 64, 1);
            vec.pushZeroed();
            final AtomicLong victim = new AtomicLong(Arena.NULL);
            final UnsafeBuffer src = resettingSource(arena, victim, 64);
            assertThrows(StaleHandleException.class, () -> vec.set(0, src, 0));
            assertUntouched(arena, victim.get(), 64);
        }
    }

    /**
     * A destination of a type Lake does not know whose {@code capacity()} resets the arena and allocates over the
     * vector's old bytes (filled with a marker).
     */
    private static UnsafeBuffer resettingDestination(final Arena arena, final int bytes)
    {
        final boolean[] done = new boolean[1];
        return new UnsafeBuffer(new byte[bytes])
        {
            @Override
            public int capacity()
            {
                if (!done[0])
                {
                    done[0] = true;
                    arena.reset();
                    final long ref = arena.allocate(bytes, 8);
                    arena.buffer(ref).setMemory(Arena.offset(ref), bytes, (byte)0x5A);
                }
                return super.capacity();
            }
        };
    }

    /**
     * OfRecord.get(index, dst, dstIndex) checked the vector and its index, then called dst.capacity() (code Lake
     * may not know), then copied: a destination that reset the arena there got another allocation's bytes as the
     * record, silently. (Had it closed the arena, the copy read freed memory: with Agrona's bounds checks off, a
     * JVM crash; see {@link #aRecordGetIntoADestinationThatClosesTheArenaIsRefusedNotACrash()}.)
     */
    @Test
    void recordGetIntoADestinationThatResetsTheArenaDoesNotReadAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 64, 1);
            vec.pushZeroed();
            final UnsafeBuffer dst = resettingDestination(arena, 64);
            assertThrows(StaleHandleException.class, () -> vec.get(0, dst, 0));
            assertEquals(0, dst.getLong(0), "the record read is another allocation's bytes");
        }
    }

    /** The same for ArenaView.OfRecord.get. */
    @Test
    void recordViewGetIntoADestinationThatResetsTheArenaDoesNotReadAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 64, 1);
            vec.pushZeroed();
            final ArenaView.OfRecord view = vec.finish();
            final UnsafeBuffer dst = resettingDestination(arena, 64);
            assertThrows(StaleHandleException.class, () -> view.get(0, dst, 0));
            assertEquals(0, dst.getLong(0), "the record read is another allocation's bytes");
        }
    }

    /**
     * The closing variant of the two above, in a child JVM with Agrona's bounds checks off: the copy read the
     * closed block's buffer (address 0 + offset), a JVM crash.
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

    /**
     * Arena.copyOf(DirectBuffer, index, length) allocated, then let Agrona's putBytes call the source's byteArray()
     * and addressOffset(): a source that reset the arena there and allocated again had that allocation
     * overwritten by the copy (and one that closed the arena made it write at address 0 + offset, a JVM crash even
     * with Agrona's checks on). The source is now asked before the allocation.
     */
    @Test
    void copyOfFromASourceThatResetsTheArenaDoesNotOverwriteAnotherAllocation()
    {
        try (Arena arena = new Arena())
        {
            final AtomicLong victim = new AtomicLong(Arena.NULL);
            final UnsafeBuffer src = resettingSource(arena, victim, 64);
            src.setMemory(0, 64, (byte)7);
            final long copy = arena.copyOf(src, 0, 64);
            assertUntouched(arena, victim.get(), 64);
            for (int i = 0; i < 64; i++)
            {
                assertEquals(7, arena.buffer(copy).getByte(Arena.offset(copy) + i));
            }
        }
    }
}
