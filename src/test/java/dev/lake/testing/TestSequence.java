package dev.lake.testing;

/**
 * A CharSequence of {@code length} copies of one char, for tests that override one method at a time to make a
 * sequence that changes while it is read: a length that grows, chars that change between passes, a charAt with
 * side effects on the allocator copying it.
 */
public class TestSequence implements CharSequence
{
    private final int length;
    private final char fill;

    /**
     * @param length what {@link #length()} answers.
     * @param fill   what {@link #charAt(int)} answers.
     */
    public TestSequence(final int length, final char fill)
    {
        this.length = length;
        this.fill = fill;
    }

    @Override
    public int length()
    {
        return length;
    }

    @Override
    public char charAt(final int index)
    {
        return fill;
    }

    @Override
    public CharSequence subSequence(final int start, final int end)
    {
        throw new UnsupportedOperationException("not needed by the tests");
    }

    @Override
    public String toString()
    {
        return "a test sequence of " + length + " chars";
    }
}
