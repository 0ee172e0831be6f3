package dev.lake.pool;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of a hostile review of {@link BuddyArena} and the pool machinery it uses, each test failing on the
 * code before its fix.
 */
class BuddyReviewRegressionTest
{
    // ---- Finding 1: the handle tier's putBytes(DirectBuffer) wrote after the source's own code ran ----

    /**
     * A source whose {@code addressOffset()} releases the handle being written (code Lake does not know): Agrona's
     * copy asked for the source's address after Lake had checked the handle and computed where to write, so the
     * copy landed in the block's next owner.
     */
    @Test
    void aHandleCopyWhoseSourceReleasesTheHandleNeverWritesIntoTheNextOwner()
    {
        try (BuddyArena arena = BuddyArena.builder(64, 64).leakDetection(false).build())
        {
            final long h = arena.allocateHandle(64);
            final long[] next = new long[1];
            final byte[] xs = new byte[64];
            Arrays.fill(xs, (byte)'X');
            final UnsafeBuffer hostile = new UnsafeBuffer(xs)
            {
                @Override
                public long addressOffset()
                {
                    if (next[0] == 0)
                    {
                        arena.release(h);                // the last reference: the block goes back
                        next[0] = arena.allocateHandle(64); // its next owner
                        for (int i = 0; i < 64; i++)
                        {
                            arena.putByte(next[0], i, (byte)'S');
                        }
                    }
                    return super.addressOffset();
                }
            };
            assertThrows(StaleHandleException.class, () -> arena.putBytes(h, 0, hostile, 0, 64));
            for (int i = 0; i < 64; i++)
            {
                assertEquals('S', arena.getByte(next[0], i), "the next owner's byte " + i);
            }
            arena.release(next[0]);
        }
    }

    /**
     * The same source closing the arena first: the release of the last block frees the region, and the copy wrote
     * at address 0 + offset (the freed region's buffer is wrapped at 0): a JVM crash, with Agrona's checks on or off.
     */
    @Test
    void aHandleCopyWhoseSourceFreesTheRegionIsRefusedNotACrash() throws Exception
    {
        for (final String checks : new String[] {"false", "true"})
        {
            final String out = CopyProbe.run(checks);
            assertTrue(out.contains("handle copy: refused"), "child JVM output:\n" + out);
        }
    }

    /**
     * The handle tier's getBytes into a MutableDirectBuffer handed a destination of a type Lake does not know the
     * arena's whole region as the copy's source: one whose putBytes closed the arena and released the handle (the
     * last block: the region is freed) then read it, at address 0 + offset, a JVM crash with Agrona's checks off.
     * Such a destination now gets a heap copy: the child JVM completes the call or refuses it, and does not crash.
     */
    @Test
    void aHandleGetIntoADestinationThatFreesTheRegionIsRefusedNotACrash() throws Exception
    {
        for (final String checks : new String[] {"false", "true"})
        {
            final String out = CopyProbe.run(checks);
            assertTrue(out.contains("handle get: refused") || out.contains("handle get: completed"), "child JVM output:\n" + out);
        }
    }

    // ---- Finding 2: Buffer.putBytes(DirectBuffer) and the codec view's wrote after the source's own code ran ----

    /**
     * The object tier's copies had the same order as the handle tier's: the cursor (or the view) checked the buffer
     * and computed where to write, then Agrona asked the source for its address. A source that closes the buffer
     * there (its block goes back, a new owner takes it) made the copy write into that owner.
     */
    @Test
    void aBufferCopyWhoseSourceClosesTheBufferNeverWritesIntoTheNextOwner()
    {
        for (final boolean throughView : new boolean[] {false, true})
        {
            try (BuddyArena arena = BuddyArena.builder(64, 64).leakDetection(false).build())
            {
                final Buffer buffer = arena.allocate(64);
                final Buffer[] next = new Buffer[1];
                final byte[] xs = new byte[64];
                Arrays.fill(xs, (byte)'X');
                final UnsafeBuffer hostile = new UnsafeBuffer(xs)
                {
                    @Override
                    public long addressOffset()
                    {
                        if (next[0] == null)
                        {
                            buffer.close();                // never frozen: the block goes back at once
                            next[0] = arena.allocate(64); // its next owner
                            for (int i = 0; i < 64; i++)
                            {
                                next[0].putByte((byte)'S');
                            }
                        }
                        return super.addressOffset();
                    }
                };
                assertThrows(StaleHandleException.class, () ->
                {
                    if (throughView)
                    {
                        buffer.mutableBuffer().putBytes(0, hostile, 0, 64);
                    }
                    else
                    {
                        buffer.putBytes(hostile, 0, 64);
                    }
                }, throughView ? "view" : "cursor");
                try (Bytes bytes = next[0].freeze())
                {
                    for (int i = 0; i < 64; i++)
                    {
                        assertEquals('S', bytes.getByte(i), (throughView ? "view" : "cursor") + ": next owner's byte " + i);
                    }
                }
            }
        }
    }

    /** The child JVM of {@link #aHandleCopyWhoseSourceFreesTheRegionIsRefusedNotACrash()}. */
    public static final class CopyProbe
    {
        private CopyProbe()
        {
        }

        static String run(final String disableBoundsChecks) throws Exception
        {
            return dev.lake.testing.ChildJvm.run(CopyProbe.class, !Boolean.parseBoolean(disableBoundsChecks));
        }

        public static void main(final String[] args)
        {
            final BuddyArena arena = BuddyArena.builder(1 << 20, 1 << 12).leakDetection(false).build();
            final long h = arena.allocateHandle(1 << 20);
            final UnsafeBuffer hostile = new UnsafeBuffer(new byte[1 << 16])
            {
                @Override
                public long addressOffset()
                {
                    if (!arena.isClosed())
                    {
                        arena.close();    // the live handle keeps the region...
                        arena.release(h); // ...until this last release frees it
                    }
                    return super.addressOffset();
                }
            };
            try
            {
                arena.putBytes(h, (1 << 20) - (1 << 16), hostile, 0, 1 << 16);
                System.out.println("handle copy: NOT refused: wrote into a freed region");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("handle copy: refused (" + ex + ")");
            }
            System.out.flush();
            handleGet();
        }

        private static void handleGet()
        {
            final BuddyArena arena = BuddyArena.builder(1 << 20, 1 << 12).leakDetection(false).build();
            final long h = arena.allocateHandle(1 << 20);
            final UnsafeBuffer hostile = new UnsafeBuffer(new byte[1 << 16])
            {
                private void freeTheRegion()
                {
                    if (!arena.isClosed())
                    {
                        arena.close();    // the live handle keeps the region...
                        arena.release(h); // ...until this last release frees it
                    }
                }

                @Override
                public void putBytes(final int index, final org.agrona.DirectBuffer src, final int srcIndex,
                    final int length)
                {
                    freeTheRegion();
                    super.putBytes(index, src, srcIndex, length);
                }

                @Override
                public void putBytes(final int index, final byte[] src, final int offset, final int length)
                {
                    freeTheRegion();
                    super.putBytes(index, src, offset, length);
                }
            };
            try
            {
                arena.getBytes(h, (1 << 20) - (1 << 16), hostile, 0, 1 << 16);
                System.out.println("handle get: completed, its own bytes");
            }
            catch (final RuntimeException ex)
            {
                System.out.println("handle get: refused (" + ex + ")");
            }
            System.out.flush();
        }
    }
}
