package dev.lake.pool;

import dev.lake.linear.Lake;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sites the sweep for "check, then code Lake does not know, then raw access" found in the pool package, each test
 * failing on the code before its fix.
 */
class SweepRegressionTest
{
    /**
     * {@code Buffer.putBytes(DirectBuffer, ..)} made room (spilling first if it had to), checked the source, asked
     * it for its array and address, then reserved the bytes at the cursor. A source whose own methods (code Lake
     * does not know) used up the room there made that reservation spill after the address was taken: the spill
     * serves waiting requests on this thread, and a waiter's callback that closed what backs the source had the
     * copy read freed memory (a JVM crash with Agrona's checks off). Run in a child JVM so that the bug shows as a
     * crash of that JVM rather than of the test run.
     */
    @Test
    void aSourceThatUsesUpTheRoomCannotMakeTheCopySpillAfterItsAddressWasTaken() throws Exception
    {
        final String out = RoomStealingSourceProbe.run();
        assertTrue(out.contains("probe: refused"), out);
    }

    /** The child JVM of {@link #aSourceThatUsesUpTheRoomCannotMakeTheCopySpillAfterItsAddressWasTaken()}. */
    public static final class RoomStealingSourceProbe
    {
        private RoomStealingSourceProbe()
        {
        }

        static String run() throws Exception
        {
            return dev.lake.testing.ChildJvm.run(RoomStealingSourceProbe.class, false);
        }

        public static void main(final String[] args)
        {
            final Lake lake = Lake.of(64 << 20); // large enough that closing it unmaps the memory
            final int at = lake.allocate(4096);
            try (FixedArena arena = FixedArena.builder(1, 64).autoSpill(true).build())
            {
                final Buffer a = arena.allocate();
                arena.allocateAsync().thenAccept(b ->
                {
                    b.close();
                    lake.close(); // what backs the source of the copy under way
                });
                // an adapter over the lake's buffer (its checks are the lake's), whose byteArray() writes to the
                // destination buffer: the room the copy made sure of is gone once the source was asked
                final UnsafeBuffer source = new UnsafeBuffer(new byte[0])
                {
                    private boolean ran;

                    @Override
                    public int capacity()
                    {
                        return lake.buffer().capacity();
                    }

                    @Override
                    public void boundsCheck(final int index, final int length)
                    {
                        lake.buffer().boundsCheck(index, length);
                    }

                    @Override
                    public byte[] byteArray()
                    {
                        if (!ran)
                        {
                            ran = true;
                            a.position(a.capacity());
                        }
                        return lake.buffer().byteArray();
                    }

                    @Override
                    public long addressOffset()
                    {
                        return lake.buffer().addressOffset();
                    }
                };
                try
                {
                    a.putBytes(source, at, 64);
                    System.out.println("probe: NOT refused: copied from freed memory");
                }
                catch (final RuntimeException ex)
                {
                    System.out.println("probe: refused (" + ex + ")");
                }
                if (a.isWritable())
                {
                    a.close();
                }
            }
            System.out.flush();
        }
    }
}
