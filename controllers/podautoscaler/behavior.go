package podautoscaler

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// recommendation is one sync's unstabilized replica count.
type recommendation struct {
	replicas int32
	at       time.Time
}

// scaleEvent is one rescale: the replicas added (scale up) or removed
// (scale down).
type scaleEvent struct {
	change int32
	at     time.Time
}

// history is what the controller remembers of one HPA between syncs.
type history struct {
	recs       []recommendation
	ups, downs []scaleEvent
}

// limitReason is a ScalingLimited condition's reason and message.
type limitReason struct{ reason, message string }

var (
	withinRange    = limitReason{"DesiredWithinRange", "the desired count is within the acceptable range"}
	tooMany        = limitReason{"TooManyReplicas", "the desired replica count is more than the maximum replica count"}
	tooFew         = limitReason{"TooFewReplicas", "the desired replica count is less than the minimum replica count"}
	upLimited      = limitReason{"ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"}
	downLimited    = limitReason{"ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"}
	upStabilized   = limitReason{"ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"}
	downStabilized = limitReason{"ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"}
	readyForScale  = limitReason{"ReadyForNewScale", "recommended size matches current size"}
)

// record keeps desired as this sync's recommendation, dropping those older
// than keep.
func (h *history) record(desired int32, now time.Time, keep time.Duration) {
	out := h.recs[:0]
	for _, r := range h.recs {
		if r.at.After(now.Add(-keep)) {
			out = append(out, r)
		}
	}
	h.recs = append(out, recommendation{desired, now})
}

// stabilizeLegacy is the stabilization of an HPA without a behavior: the
// highest recommendation of the downscale stabilization window, this
// one's included.
func (h *history) stabilizeLegacy(desired int32, now time.Time, window time.Duration) int32 {
	out := desired
	for _, r := range h.recs {
		if r.at.After(now.Add(-window)) && r.replicas > out {
			out = r.replicas
		}
	}
	h.record(desired, now, window)
	return out
}

// stabilize is the stabilization with a behavior: the recommendation is
// the current count brought up to the lowest recommendation of the
// scale-up window and down to the highest of the scale-down window (each
// including this one).
func (h *history) stabilize(current, desired int32, now time.Time, upWindow, downWindow time.Duration) int32 {
	up, down := desired, desired
	for _, r := range h.recs {
		if r.at.After(now.Add(-upWindow)) {
			up = min(up, r.replicas)
		}
		if r.at.After(now.Add(-downWindow)) {
			down = max(down, r.replicas)
		}
	}
	out := current
	if out < up {
		out = up
	}
	if out > down {
		out = down
	}
	h.record(desired, now, max(upWindow, downWindow))
	return out
}

// changeIn sums the events of the last period.
func changeIn(events []scaleEvent, now time.Time, period time.Duration) int32 {
	var n int32
	for _, e := range events {
		if e.at.After(now.Add(-period)) {
			n += e.change
		}
	}
	return n
}

// scaleUpLimit is the most replicas the scale-up rules allow now: each
// policy's bound from the count at the start of its period (the current
// count less what was added in it plus what was removed), the highest
// (Max) or lowest (Min) of them; Disabled allows no increase.
func (h *history) scaleUpLimit(current int32, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if rules.SelectPolicy != nil && *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	pickMax := rules.SelectPolicy == nil || *rules.SelectPolicy == autoscalingv2.MaxChangePolicySelect
	limit := int32(math.MinInt32)
	if !pickMax {
		limit = math.MaxInt32
	}
	for _, p := range rules.Policies {
		period := time.Duration(p.PeriodSeconds) * time.Second
		start := current - changeIn(h.ups, now, period) + changeIn(h.downs, now, period)
		var bound int32
		if p.Type == autoscalingv2.PodsScalingPolicy {
			bound = start + p.Value
		} else {
			bound = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if pickMax {
			limit = max(limit, bound)
		} else {
			limit = min(limit, bound)
		}
	}
	return limit
}

// scaleDownLimit is the fewest replicas the scale-down rules allow now;
// Max selects the policy allowing the largest decrease.
func (h *history) scaleDownLimit(current int32, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if rules.SelectPolicy != nil && *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	pickMax := rules.SelectPolicy == nil || *rules.SelectPolicy == autoscalingv2.MaxChangePolicySelect
	limit := int32(math.MaxInt32)
	if !pickMax {
		limit = math.MinInt32
	}
	for _, p := range rules.Policies {
		period := time.Duration(p.PeriodSeconds) * time.Second
		start := current - changeIn(h.ups, now, period) + changeIn(h.downs, now, period)
		var bound int32
		if p.Type == autoscalingv2.PodsScalingPolicy {
			bound = start - p.Value
		} else {
			bound = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if pickMax {
			limit = min(limit, bound)
		} else {
			limit = max(limit, bound)
		}
	}
	return limit
}

// limitWithBehavior bounds a stabilized recommendation by the behavior's
// rates and by minReplicas..maxReplicas.
func (h *history) limitWithBehavior(current, desired, minR, maxR int32, b *autoscalingv2.HorizontalPodAutoscalerBehavior, now time.Time) (int32, limitReason) {
	switch {
	case desired > current:
		allowed, why := maxR, tooMany
		if up := max(h.scaleUpLimit(current, b.ScaleUp, now), current); up < allowed {
			allowed, why = up, upLimited
		}
		if desired > allowed {
			return allowed, why
		}
	case desired < current:
		allowed, why := minR, tooFew
		if down := min(h.scaleDownLimit(current, b.ScaleDown, now), current); down > allowed {
			allowed, why = down, downLimited
		}
		if desired < allowed {
			return allowed, why
		}
	}
	return desired, withinRange
}

// limitLegacy bounds the recommendation of an HPA without a behavior:
// at most twice the current count (at least 4) and within
// minReplicas..maxReplicas.
func limitLegacy(current, desired, minR, maxR int32) (int32, limitReason) {
	upLimit := max(2*current, 4)
	allowed, why := maxR, tooMany
	if upLimit < allowed {
		allowed, why = upLimit, upLimited
	}
	switch {
	case desired < minR:
		return minR, tooFew
	case desired > allowed:
		return allowed, why
	}
	return desired, withinRange
}

// recordScale keeps a rescale from prev to next for the behavior's
// periods, dropping events older than the longest period.
func (h *history) recordScale(prev, next int32, b *autoscalingv2.HorizontalPodAutoscalerBehavior, now time.Time) {
	if b == nil || prev == next {
		return
	}
	keep := func(events []scaleEvent, rules *autoscalingv2.HPAScalingRules) []scaleEvent {
		var longest int32
		if rules != nil {
			for _, p := range rules.Policies {
				longest = max(longest, p.PeriodSeconds)
			}
		}
		out := events[:0]
		for _, e := range events {
			if e.at.After(now.Add(-time.Duration(longest) * time.Second)) {
				out = append(out, e)
			}
		}
		return out
	}
	if next > prev {
		h.ups = append(keep(h.ups, b.ScaleUp), scaleEvent{next - prev, now})
	} else {
		h.downs = append(keep(h.downs, b.ScaleDown), scaleEvent{prev - next, now})
	}
}
