namespace IlgpuDiffusion.Serving;

/// <summary>A <see cref="TextGenerationEngine"/>'s queue is full: the request was refused; try again later.</summary>
public sealed class EngineBusyException : Exception
{
    /// <summary>A refusal with a default message.</summary>
    public EngineBusyException() : base("The generation engine's queue is full; try again later.")
    {
    }

    /// <summary>A refusal with <paramref name="message"/>.</summary>
    public EngineBusyException(string message) : base(message)
    {
    }

    /// <summary>A refusal with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public EngineBusyException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
