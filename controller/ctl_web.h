/*
 * ctl_web.h - the controller's web view: a page built into the binary, the
 * fleet's series for its chart, and an event stream that announces every
 * control round.  Served by the API's HTTP server (ctl_api.c asks this
 * first), on the controller's loop.
 *
 *   GET /, /web/NAME            the page and its assets (controller/web/)
 *   GET /api/series?since=TS    the rounds' samples (struct ctl_series)
 *   GET /api/events             text/event-stream, "round" after each round
 *
 * The page reads everything else through the JSON API and can change
 * nothing without the API token, which the API checks on each request.
 */
#ifndef CTL_WEB_H
#define CTL_WEB_H

#include <stdbool.h>

struct ctl;
struct ebb_http_req;
struct ebb_http_resp;

/*
 * Answers the request when it is one of the paths above (a 405 for another
 * method on them) and returns true; false leaves it to the API.
 */
bool	ctl_web_handle(struct ctl *, const struct ebb_http_req *,
	    struct ebb_http_resp *);
/* After a round: its sample to every open event stream. */
void	ctl_web_round(struct ctl *);
void	ctl_web_fini(struct ctl *);

#endif /* CTL_WEB_H */
