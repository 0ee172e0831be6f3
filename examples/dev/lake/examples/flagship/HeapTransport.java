package dev.lake.examples.flagship;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Baseline: a fresh {@code byte[]} per message, shared by reference, reclaimed by the garbage collector.
 */
final class HeapTransport implements Transport<byte[]>
{
    @Override
    public String name()
    {
        return "heap byte[]";
    }

    @Override
    public byte[] claim(final int capacity)
    {
        return new byte[capacity];
    }

    @Override
    public MutableDirectBuffer writable(final byte[] message, final UnsafeBuffer view)
    {
        view.wrap(message);
        return view;
    }

    @Override
    public byte[] publish(final byte[] message, final int length)
    {
        return message;
    }

    @Override
    public DirectBuffer readable(final byte[] message, final UnsafeBuffer view)
    {
        view.wrap(message);
        return view;
    }

    @Override
    public byte[] share(final byte[] message)
    {
        return message;
    }

    @Override
    public void release(final byte[] message)
    {
        // the garbage collector's job
    }

    @Override
    public long outstanding()
    {
        return 0;
    }

    @Override
    public void close()
    {
        // nothing held
    }
}
