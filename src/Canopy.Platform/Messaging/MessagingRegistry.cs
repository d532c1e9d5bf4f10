namespace Canopy.Platform.Messaging;

/// <summary>
/// The queues, job handlers and event subscribers of this process, checked at start-up: every
/// queue and subscriber has an owner, names are unique, and every handler's type is unique.
/// </summary>
public sealed class MessagingRegistry
{
    private readonly Dictionary<string, QueueDefinition> _queues;
    private readonly Dictionary<string, IJobHandler> _handlers;

    public MessagingRegistry(IEnumerable<QueueDefinition> queues, IEnumerable<IJobHandler> handlers, IEnumerable<IEventSubscriber> subscribers)
    {
        var queueList = queues.ToList();
        var handlerList = handlers.ToList();
        Subscribers = subscribers.ToList();
        var problems = new List<string>();
        problems.AddRange(queueList.Where(q => string.IsNullOrWhiteSpace(q.Owner)).Select(q => $"queue '{q.Name}' has no owner"));
        problems.AddRange(queueList.Where(q => q.Concurrency < 1 || q.MaxAttempts < 1).Select(q => $"queue '{q.Name}' needs a concurrency and attempts of at least 1"));
        problems.AddRange(queueList.GroupBy(q => q.Name).Where(g => g.Count() > 1).Select(g => $"queue '{g.Key}' is defined twice"));
        problems.AddRange(handlerList.GroupBy(h => h.Type).Where(g => g.Count() > 1).Select(g => $"job type '{g.Key}' has two handlers"));
        problems.AddRange(Subscribers.Where(s => string.IsNullOrWhiteSpace(s.Owner)).Select(s => $"subscriber '{s.Name}' has no owner"));
        problems.AddRange(Subscribers.GroupBy(s => s.Name).Where(g => g.Count() > 1).Select(g => $"subscriber '{g.Key}' is registered twice"));
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Messaging is misconfigured: " + string.Join("; ", problems) + ".");
        }

        _queues = queueList.ToDictionary(q => q.Name, StringComparer.Ordinal);
        _handlers = handlerList.ToDictionary(h => h.Type, StringComparer.Ordinal);
    }

    public IReadOnlyCollection<QueueDefinition> Queues => _queues.Values;

    public IReadOnlyList<IEventSubscriber> Subscribers { get; }

    public QueueDefinition Queue(string name) =>
        _queues.TryGetValue(name, out var queue) ? queue : throw new InvalidOperationException($"Queue '{name}' is not defined.");

    public IJobHandler? Handler(string type) => _handlers.GetValueOrDefault(type);

    public IEventSubscriber? Subscriber(string name) => Subscribers.FirstOrDefault(s => s.Name == name);
}
