using System.Threading.Channels;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// A request inside a <see cref="TextGenerationEngine"/>, from the queue to its result: the task of a completion, or the
/// channel of a stream (whose task then stays unset, so that no failure goes unobserved). Finishing is first-wins, so a
/// result that arrives after a cancellation is dropped.
/// </summary>
internal sealed class PendingRequest
{
    private readonly TaskCompletionSource<TextCompletion> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<TextUpdate>? _updates;
    private CancellationTokenRegistration _registration;
    private int _finished;

    public PendingRequest(PreparedRequest prepared, bool streams)
    {
        Prepared = prepared;
        if (streams) _updates = Channel.CreateUnbounded<TextUpdate>(new UnboundedChannelOptions { SingleReader = true });
    }

    /// <summary>The validated request.</summary>
    public PreparedRequest Prepared { get; }

    /// <summary>Its place in the engine's queue while it waits; null once taken or gone.</summary>
    public LinkedListNode<PendingRequest>? Node { get; set; }

    /// <summary>Whether it streams its intermediate states.</summary>
    public bool Streams => _updates is not null;

    /// <summary>Whether it has its result, failed or was cancelled.</summary>
    public bool IsFinished => Volatile.Read(ref _finished) != 0;

    /// <summary>The finished completions (requests that do not stream).</summary>
    public Task<TextCompletion> Completion => _completion.Task;

    /// <summary>The stream's updates (streaming requests only).</summary>
    public ChannelReader<TextUpdate> Updates => _updates?.Reader ?? throw new InvalidOperationException("The request does not stream.");

    /// <summary>Calls <paramref name="onCancel"/> when <paramref name="cancellationToken"/> is cancelled.</summary>
    public void OnCancellation(CancellationToken cancellationToken, Action<PendingRequest> onCancel) =>
        _registration = cancellationToken.Register(state => onCancel((PendingRequest)state!), this);

    /// <summary>Publishes an intermediate state to a streaming request.</summary>
    public void Publish(TextUpdate update)
    {
        if (!IsFinished) _updates?.Writer.TryWrite(update);
    }

    /// <summary>Delivers the result (and, to a stream, the final update carrying it).</summary>
    public void Complete(TextCompletion completion, TextUpdate final)
    {
        if (!Finish()) return;
        if (_updates is null) _completion.TrySetResult(completion);
        else
        {
            _updates.Writer.TryWrite(final with { Completion = completion });
            _updates.Writer.TryComplete();
        }
    }

    /// <summary>Fails the request with <paramref name="error"/>.</summary>
    public void Fail(Exception error)
    {
        if (!Finish()) return;
        if (_updates is null) _completion.TrySetException(error);
        else _updates.Writer.TryComplete(error);
    }

    /// <summary>Cancels the request for <paramref name="cancellationToken"/>.</summary>
    public void Cancel(CancellationToken cancellationToken)
    {
        if (!Finish()) return;
        if (_updates is null) _completion.TrySetCanceled(cancellationToken);
        else _updates.Writer.TryComplete(new OperationCanceledException(cancellationToken));
    }

    private bool Finish()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0) return false;
        _registration.Unregister();
        return true;
    }
}
