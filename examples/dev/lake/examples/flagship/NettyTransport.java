package dev.lake.examples.flagship;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Baseline: Netty's pooled direct {@code ByteBuf}s, reference counted with {@code retain()}/{@code release()},
 * encoded and decoded in place through an Agrona view over {@code memoryAddress()}.
 */
final class NettyTransport implements Transport<ByteBuf>
{
    private final PooledByteBufAllocator allocator = new PooledByteBufAllocator(true);
    private final AtomicLong outstanding = new AtomicLong();

    @Override
    public String name()
    {
        return "Netty pooled ByteBuf";
    }

    @Override
    public ByteBuf claim(final int capacity)
    {
        outstanding.incrementAndGet();
        return allocator.directBuffer(capacity, capacity);
    }

    @Override
    public MutableDirectBuffer writable(final ByteBuf message, final UnsafeBuffer view)
    {
        view.wrap(message.memoryAddress(), message.capacity());
        return view;
    }

    @Override
    public ByteBuf publish(final ByteBuf message, final int length)
    {
        message.writerIndex(length);
        return message;
    }

    @Override
    public DirectBuffer readable(final ByteBuf message, final UnsafeBuffer view)
    {
        view.wrap(message.memoryAddress(), message.writerIndex());
        return view;
    }

    @Override
    public ByteBuf share(final ByteBuf message)
    {
        return message.retain();
    }

    @Override
    public void release(final ByteBuf message)
    {
        if (message.release())
        {
            outstanding.decrementAndGet();
        }
    }

    @Override
    public long outstanding()
    {
        return outstanding.get();
    }

    @Override
    public void close()
    {
        // pooled arenas are released with the allocator
    }
}
