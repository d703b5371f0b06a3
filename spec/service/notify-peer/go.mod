module notifypeer

go 1.19
