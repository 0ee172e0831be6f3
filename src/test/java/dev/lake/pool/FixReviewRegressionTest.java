package dev.lake.pool;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Regression tests from the review of the day's fixes, pool package: each failed before its fix. */
class FixReviewRegressionTest
{
    /**
     * Bytes.compareTo compared unsigned bytes, while its Javadoc and Agrona's buffers compare in Agrona's order
     * (native longs, then signed bytes, then capacities): a Bytes holding 0x80 compared greater than an
     * UnsafeBuffer holding 0x01 and the UnsafeBuffer greater than it too, so sorting a mix broke. Found by the
     * review of the day's fixes.
     */
    @Test
    void bytesCompareInAgronasOrderBothWays()
    {
        try (FixedArena arena = FixedArena.builder(2, 64).name("compare").build())
        {
            final java.util.Random random = new java.util.Random(42);
            for (int round = 0; round < 2000; round++)
            {
                final byte[] a = new byte[random.nextInt(20)];
                final byte[] b = new byte[random.nextInt(20)];
                random.nextBytes(a);
                random.nextBytes(b);
                if (random.nextBoolean() && a.length > 0 && b.length > 0)
                {
                    System.arraycopy(a, 0, b, 0, Math.min(a.length, b.length) / 2); // shared prefixes too
                }
                final Bytes bytes = arena.allocate().putBytes(a).freeze();
                try
                {
                    final UnsafeBuffer other = new UnsafeBuffer(b);
                    final int expected = Integer.signum(new UnsafeBuffer(a).compareTo(other));
                    assertEquals(expected, Integer.signum(bytes.compareTo(other)), "Bytes vs UnsafeBuffer, round " + round);
                    assertEquals(-expected, Integer.signum(other.compareTo(bytes)), "UnsafeBuffer vs Bytes, round " + round);
                }
                finally
                {
                    bytes.release();
                }
            }
        }
    }
}
