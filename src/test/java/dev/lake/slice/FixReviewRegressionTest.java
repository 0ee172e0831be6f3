package dev.lake.slice;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Regression tests from the review of the foreign-buffer ordering fixes. */
class FixReviewRegressionTest
{
    /**
     * SliceView.compareTo now reads through its checked accessors instead of delegating to Agrona: it must order
     * exactly as Agrona's UnsafeBuffer.compareTo does, against every kind of buffer. Randomized, differential.
     */
    @Test
    void sliceViewOrdersExactlyAsAgrona()
    {
        final SplittableRandom random = new SplittableRandom(42);
        try (SliceAllocator slices = SliceAllocator.builder(ElementLayout.BYTE).build())
        {
            for (int round = 0; round < 3000; round++)
            {
                final int length = random.nextInt(40);
                final byte[] mine = randomBytes(random, length);
                final int otherLength = random.nextBoolean() ? length : random.nextInt(40);
                final byte[] other = random.nextInt(4) == 0 ? mine.clone() : randomBytes(random, otherLength);
                if (random.nextBoolean())
                {
                    System.arraycopy(mine, 0, other, 0, random.nextInt(Math.min(mine.length, other.length) + 1));
                }
                try (SharedSlice a = slices.allocateBytes(length, i -> mine[i]);
                    SharedSlice b = slices.allocateBytes(other.length, i -> other[i]))
                {
                    final DirectBuffer view = a.buffer();
                    final UnsafeBuffer reference = new UnsafeBuffer(mine);
                    final ByteBuffer direct = ByteBuffer.allocateDirect(other.length);
                    direct.put(other).flip();
                    final ExpandableArrayBuffer expandable = new ExpandableArrayBuffer(other.length);
                    expandable.putBytes(0, other);
                    final DirectBuffer[] others = {
                        new UnsafeBuffer(other), new UnsafeBuffer(direct), b.buffer(),
                        new UnsafeBuffer(withPrefix(other), 3, other.length)};
                    for (final DirectBuffer that : others)
                    {
                        assertEquals(Integer.signum(reference.compareTo(that)), Integer.signum(view.compareTo(that)),
                            "round " + round + " against " + that.getClass().getSimpleName());
                        assertEquals(Integer.signum(that.compareTo(reference)), Integer.signum(that.compareTo(view)),
                            "round " + round + ", reversed, " + that.getClass().getSimpleName());
                    }
                    // an expandable buffer's capacity is its array's, not the bytes written
                    assertEquals(Integer.signum(reference.compareTo(expandable)),
                        Integer.signum(view.compareTo(expandable)), "round " + round + " against expandable");
                    assertEquals(reference.compareTo(new UnsafeBuffer(mine)) == 0, view.equals(a.buffer()));
                }
            }
        }
    }

    private static byte[] withPrefix(final byte[] bytes)
    {
        final byte[] out = new byte[bytes.length + 3];
        System.arraycopy(bytes, 0, out, 3, bytes.length);
        return out;
    }

    private static byte[] randomBytes(final SplittableRandom random, final int length)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            // few distinct values, so that long prefixes are equal often; signed extremes included
            final int pick = random.nextInt(5);
            bytes[i] = pick == 0 ? (byte)0x80 : pick == 1 ? (byte)0x7F : pick == 2 ? (byte)0xFF : (byte)pick;
        }
        return bytes;
    }
}
